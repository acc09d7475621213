import type { Check } from './doctor-check.ts';
import {
  binaryOnPath,
  helperConfig,
  tokenFile,
  serverReachable,
  hostConfigCheck,
  credentials,
  clientConfig,
} from './service-checks.ts';
import { mirrorEndpoint, upstreamProbe } from './endpoint-checks.ts';
import { engineFiles } from './engine-files.ts';
import { dockerdMirrors, imageStore } from './dockerd-checks.ts';
import { hubEgress } from './hub-egress.ts';
import { localNameChecks } from './local-name-checks.ts';

// In dependency order: each later check builds on what the earlier ones found (settings →
// token → server → host config → credentials → the endpoint and the upstream → the engines'
// files and the running dockerd → local-name mode, when asked → what happens when the mirror fails).
export const DOCTOR_CHECKS: Check[] = [
  binaryOnPath,
  helperConfig,
  tokenFile,
  serverReachable,
  hostConfigCheck,
  credentials,
  clientConfig,
  mirrorEndpoint,
  upstreamProbe,
  engineFiles,
  dockerdMirrors,
  imageStore,
  localNameChecks,
  hubEgress,
];
