declare const __VERSION__: string | undefined;

// Replaced at bundle time by scripts/build.mjs; sources run under vitest fall back to "dev".
export const VERSION: string = typeof __VERSION__ === 'string' ? __VERSION__ : 'dev';
