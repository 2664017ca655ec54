// A logger whose lines a test reads back: the JSON lines pino wrote, one string each.
import { Writable } from 'node:stream';
import type { LevelWithSilent } from 'pino';
import { createLogger, type Logger } from '../../runtime/log.js';

export function captureLog(level: LevelWithSilent = 'info'): { lines: string[]; log: Logger } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, log: createLogger({ level, component: 'test', destination }) };
}
