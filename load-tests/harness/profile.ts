// Where the time goes, for BENCH_PROFILE runs: PostgreSQL's statements by total
// execution time (pg_stat_statements), and each component's CPU profile
// (node --cpu-prof) folded into self time per function and per package.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export const PG_STATEMENTS_SETTINGS = ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all'] as const;

export async function resetStatements(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await client.query('SELECT pg_stat_statements_reset()');
  } finally {
    await client.end();
  }
}

/** The statements with the most total execution time, per unit of work (a payment). */
export async function topStatements(databaseUrl: string, limit: number, units: number): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ calls: string; ms: number; query: string }>(
      `SELECT calls, total_exec_time AS ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 100) AS query
       FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT $1`, [limit]);
    const totals = await client.query<{ calls: string; ms: number }>('SELECT sum(calls)::bigint AS calls, sum(total_exec_time) AS ms ' +
      'FROM pg_stat_statements');
    const total = totals.rows[0];
    const lines = [`PostgreSQL: ${(Number(total?.calls) / units).toFixed(1)} statements and ${(Number(total?.ms) / units).toFixed(2)} ms ` +
      `of execution per payment; the top ${limit}:`, '', '| ms total | calls | per payment | statement |', '|---|---|---|---|'];
    for (const r of rows) lines.push(`| ${Math.round(r.ms)} | ${r.calls} | ${(Number(r.calls) / units).toFixed(2)} | ` +
      `\`${r.query.replace(/\|/g, '\\|')}\` |`);
    return lines;
  } finally {
    await client.end();
  }
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

/** Self time by function and by package, for every .cpuprofile in the folder. */
export function summarizeCpuProfiles(dir: string, label: (file: string) => string, topFunctions: number): string[] {
  const lines: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const selfUs = new Map<string, number>();
    const packageUs = new Map<string, number>();
    let totalUs = 0;
    profile.samples.forEach((id, i) => {
      const node = byId.get(id);
      const delta = profile.timeDeltas[i] ?? 0;
      if (!node) return;
      const { functionName, url, lineNumber } = node.callFrame;
      if (functionName === '(idle)') return;
      totalUs += delta;
      const where = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'npm:').replace(/^.*\/dist\//, '');
      const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
      selfUs.set(key, (selfUs.get(key) ?? 0) + delta);
      const pkg = where.startsWith('npm:') ? where.split('/').slice(0,
        where.startsWith('npm:@') ? 2 : 1).join('/') : where === '' ? functionName : where.startsWith('node:') ? 'node ' +
        'internals' : 'dialpay';
      packageUs.set(pkg, (packageUs.get(pkg) ?? 0) + delta);
    });
    const pct = (us: number) => `${((us / totalUs) * 100).toFixed(1)}%`;
    lines.push(`CPU profile of ${label(file)} (${(totalUs / 1e6).toFixed(1)} s busy):`, '');
    lines.push(`- by package: ${[...packageUs].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${k} ${pct(v)}`).join(', ')}`);
    lines.push(`- top functions (self): ` +
      `${[...selfUs].sort((a, b) => b[1] - a[1]).slice(0, topFunctions).map(([k, v]) => `\`${k}\` ${pct(v)}`).join(', ')}`, '');
  }
  return lines;
}
