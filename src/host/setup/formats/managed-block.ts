// Text formats with comments (TOML) carry our additions between two marker lines, so that
// unconfigure can find and remove exactly them even after others edited the rest of the file.
export const BLOCK_BEGIN =
  '# BEGIN docker-credential-dstack (added by `docker-credential-dstack configure`; removed by `unconfigure`)';
export const BLOCK_END = '# END docker-credential-dstack';

interface Located {
  start: number;
  end: number;
  body: string;
}

export function findBlock(text: string): Located | undefined {
  const start = text.indexOf(BLOCK_BEGIN);
  if (start === -1) return undefined;
  const endMarker = text.indexOf(BLOCK_END, start);
  if (endMarker === -1) return undefined;
  let end = endMarker + BLOCK_END.length;
  if (text[end] === '\n') end += 1;
  const bodyStart = text.indexOf('\n', start) + 1;
  return { start, end, body: text.slice(bodyStart, endMarker) };
}

// Text outside our block: what others own and we must not rewrite.
export function outsideBlock(text: string): string {
  const block = findBlock(text);
  return block ? text.slice(0, block.start) + text.slice(block.end) : text;
}

// Puts `body` in our block: replaces an existing block in place, else appends one after a
// blank line. An empty body removes the block.
export function setBlock(text: string, body: string): string {
  const block = findBlock(text);
  if (body === '') return block ? removeBlock(text) : text;
  const wrapped = `${BLOCK_BEGIN}\n${body.endsWith('\n') ? body : `${body}\n`}${BLOCK_END}\n`;
  if (block) return text.slice(0, block.start) + wrapped + text.slice(block.end);
  if (text === '') return wrapped;
  const sep = text.endsWith('\n\n') ? '' : text.endsWith('\n') ? '\n' : '\n\n';
  return text + sep + wrapped;
}

// Removes our block and the blank line setBlock put before it.
export function removeBlock(text: string): string {
  const block = findBlock(text);
  if (!block) return text;
  let before = text.slice(0, block.start);
  const after = text.slice(block.end);
  if (before.endsWith('\n\n')) before = before.slice(0, -1);
  return before + after;
}
