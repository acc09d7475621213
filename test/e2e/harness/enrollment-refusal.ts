import { expect } from 'vitest';
import { METADATA_ADDRESS } from './netns.ts';
import { SERVICE_PORT } from './enrollment-stack.ts';

// A refused `enroll`: exit 1, nothing on stdout, exactly one line on stderr naming the service
// and its reason (the "refused with a one-line reason").
export function expectRefusal(result: { exitCode?: number; stdout: unknown; stderr: unknown }, message: RegExp): void {
  expect(result.exitCode, String(result.stderr)).toBe(1);
  expect(result.stdout).toBe('');
  const lines = String(result.stderr).trim().split('\n');
  expect(lines, String(result.stderr)).toHaveLength(1);
  expect(lines[0]).toContain(
    `docker-credential-dstack enroll: dstack server https://${METADATA_ADDRESS}:${SERVICE_PORT} refused the enrollment (HTTP 403): enrollment refused: `,
  );
  expect(lines[0]).toMatch(message);
}
