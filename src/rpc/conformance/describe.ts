import type { Item } from './recorder.js';

const MAX_TEXT = 160;

/** One line a person can read for an observed item (failure reports, SPEC §11.6). */
export function describeItem(item: Item): string {
  const at = `#${item.index} +${item.atMs}ms`;
  switch (item.kind) {
    case 'message':
      return `${at} message ${clip(JSON.stringify(item.message))}`;
    case 'packet': {
      const p = item.packet;
      const parts = [`test=${JSON.stringify(p.testId ?? null)}`, `status=${String(p.status)}`];
      if (p.routeCode !== undefined) parts.push(`route=${JSON.stringify(p.routeCode)}`);
      if (p.fileName !== undefined) parts.push(`file=${JSON.stringify(p.fileName)}(${clip(JSON.stringify(p.fileText))})`);
      if (p.timestamp === undefined) parts.push('no-timestamp');
      return `${at} packet ${parts.join(' ')}`;
    }
    case 'output':
      return `${at} output ${item.output.bytes} bytes ${clip(JSON.stringify(item.output.text))}`;
    case 'bad-message':
      return `${at} undecodable RPC message: ${clip(item.error)}`;
    case 'decode-error':
      return `${at} corrupt packet: ${clip(item.error)}`;
    case 'close':
      return `${at} channel closed by the server`;
    case 'exit':
      return `${at} process exited (code ${String(item.exit.code)}, signal ${String(item.exit.signal)})`;
  }
}

/** Hexadecimal in rows of 16 bytes with their printable characters, like `xxd`. */
export function hexDump(bytes: Uint8Array): string {
  const rows: string[] = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.subarray(off, off + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    rows.push(`${hex.padEnd(47)}  ${text}`);
  }
  return rows.join('\n');
}

function clip(s: string): string {
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 3)}...` : s;
}
