// A postgres:// URL naming several servers, as libpq writes it:
// postgres://user:pw@primary:5432,standby:5433/dialpay?target_session_attrs=read-write
// node-postgres takes one host only, so the URL is split here into one ordinary
// URL per server; failover.ts picks the one that accepts writes. A URL with one
// host comes back as itself, untouched. Pure.

/** How many servers a URL may name: a primary and its standbys. */
export const POSTGRES_HOSTS_MAX = 8;

export interface PostgresServers {
  /** One single-host URL per server, in the order given: each one an ordinary URL node-postgres accepts. */
  readonly urls: readonly string[];
  /** true when the caller asked for a server that accepts writes (target_session_attrs=read-write or primary). */
  readonly readWrite: boolean;
}

const AUTHORITY = /^(postgres(?:ql)?:\/\/)([^/?#]*)(.*)$/;

/** Splits `url` into one URL per host. Throws TypeError on a URL it cannot read. */
export function postgresServers(url: string): PostgresServers {
  const match = AUTHORITY.exec(url);
  if (!match) throw new TypeError('postgres.url must be a postgres:// URL');
  const [, scheme, authority, rest] = match as unknown as [string, string, string, string];
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hosts = (at >= 0 ? authority.slice(at + 1) : authority).split(',');
  if (hosts.length > POSTGRES_HOSTS_MAX) throw new TypeError(`postgres.url names ${hosts.length} servers; at most ${POSTGRES_HOSTS_MAX}`);
  if (hosts.some((h) => h === '')) throw new TypeError('postgres.url has an empty host in its list');
  // target_session_attrs is libpq's; node-postgres would pass it to the server as a setting, which refuses it.
  const query = new URLSearchParams(rest.includes('?') ? rest.slice(rest.indexOf('?') + 1).replace(/#.*$/, '') : '');
  const attrs = query.get('target_session_attrs') ?? 'any';
  if (!['any', 'read-write', 'primary'].includes(attrs)) {
    throw new TypeError(`postgres.url: target_session_attrs=${attrs} is not supported (any, read-write or primary)`);
  }
  query.delete('target_session_attrs');
  const path = rest.includes('?') ? rest.slice(0, rest.indexOf('?')) : rest.replace(/#.*$/, '');
  const search = query.toString();
  const urls = hosts.length === 1 && attrs === 'any'
    ? [url]
    : hosts.map((host) => `${scheme}${userinfo}${host}${path}${search ? `?${search}` : ''}`);
  for (const u of urls) new URL(u); // each must be an ordinary URL
  return { urls, readWrite: attrs !== 'any' };
}
