import { parseArgs } from 'node:util';
import type { Command, CommandContext } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { isCodedError, oneLine } from '../../common/errors.ts';
import { assertTransportAllowed, listenUrl, loadServiceConfig } from '../config/service-config.ts';
import { buildService } from '../build-service.ts';
import { startServer } from '../http/start-server.ts';
import { compactHeap } from '../http/compact-heap.ts';
import { unknownSettings } from '../config/unknown-settings.ts';

// `serve`: runs until SIGTERM or SIGINT, then stops accepting, finishes requests in flight,
// closes the stores and resolves 0. Start-up failures (bad configuration, unusable key files,
// address in use) print one line naming the setting and return 2.
export const serveCommand: Command = async (ctx) => {
  const signals = processStopSignal();
  try {
    return await runServe(ctx, signals.signal);
  } finally {
    signals.dispose();
  }
};

// The serve loop with its stop signal passed in, so tests can stop it without signals.
export async function runServe(ctx: CommandContext, stop: AbortSignal): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: ctx.argv,
      options: { listen: { type: 'string' }, 'data-dir': { type: 'string' }, 'plain-http': { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    await write(
      ctx.stderr,
      `dstack-registry-auth serve: ${oneLine(error)}\nusage: dstack-registry-auth serve [--listen HOST:PORT] [--data-dir DIR] [--plain-http]\n`,
    );
    return 2;
  }
  const log = (line: string) => void write(ctx.stderr, `dstack-registry-auth: ${line}\n`).catch(() => {});
  for (const name of unknownSettings(ctx.env))
    log(
      `warning: ${name} is not a setting of this service and is ignored; check its spelling (docs/service.md lists them)`,
    );
  let service;
  let running;
  try {
    const config = await loadServiceConfig(ctx.env, {
      ...(flags.listen !== undefined ? { listen: flags.listen } : {}),
      ...(flags['data-dir'] !== undefined ? { dataDir: flags['data-dir'] } : {}),
      ...(flags['plain-http'] ? { plainHttp: true } : {}),
    });
    assertTransportAllowed(config);
    service = await buildService(config, { env: ctx.env, auditStream: ctx.stderr, log });
    compactHeap();
    running = await startServer(service.handler, config);
    const publicUrl =
      config.publicUrl === listenUrl(config.listen, config.tls !== undefined) ? running.url : config.publicUrl;
    if (publicUrl !== running.url) log(`public URL ${publicUrl} (token realm ${publicUrl}/v1/token)`);
  } catch (error) {
    await service?.close().catch(() => {});
    if (!isCodedError(error)) throw error;
    await write(ctx.stderr, `dstack-registry-auth: ${oneLine(error)}\n`);
    return 2;
  }
  await write(ctx.stderr, `dstack-registry-auth listening on ${running.url}\n`);
  await new Promise<void>((resolve) =>
    stop.aborted ? resolve() : stop.addEventListener('abort', () => resolve(), { once: true }),
  );
  log('stopping');
  await running.close();
  await service.close();
  return 0;
}

// SIGTERM/SIGINT as an AbortSignal: the one place the service command touches process.*,
// because a long-running server is the command that must react to signals.
function processStopSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const dispose = () => {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  };
  const stop = () => {
    dispose();
    controller.abort();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return { signal: controller.signal, dispose };
}
