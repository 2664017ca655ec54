// What the health watcher reads from an info response and from a failed request: a leader, none,
// or nothing it can tell (cluster-health.ts); the watcher itself runs against real servers in
// test/integration/cluster-health.test.ts and pg-replication-health.test.ts.
import { describe, expect, it } from 'vitest';
import { errors } from '@nats-io/transport-node';
import { leaderOf, meansNoLeader } from '../../../runtime/nats/cluster-health.js';

describe('leaderOf', () => {
  it('names the leader of a clustered stream and counts the replicas that are not current', () => {
    expect(leaderOf({ name: 'dialpay', leader: 'n2', replicas: [{ current: true }, { current: false }] })).toEqual({ leader: 'n2', laggingReplicas: 1 });
    expect(leaderOf({ name: 'dialpay', leader: 'n1', replicas: [{ current: true }, { current: true }] })).toEqual({ leader: 'n1', laggingReplicas: 0 });
  });

  it('says no leader when a cluster answers without one', () => {
    expect(leaderOf({ name: 'dialpay', replicas: [{ current: false }] })).toBeNull();
    expect(leaderOf({ name: 'dialpay' })).toBeNull();
  });

  it('takes a server outside a cluster as its own leader, with nothing lagging', () => {
    expect(leaderOf(undefined)).toEqual({ leader: 'standalone', laggingReplicas: 0 });
    expect(leaderOf({ leader: 'NAXYZ' })).toEqual({ leader: 'NAXYZ', laggingReplicas: 0 });
  });
});

describe('meansNoLeader', () => {
  it('is true for a timeout or no responders, also as the cause of a request error', () => {
    expect(meansNoLeader(new errors.TimeoutError())).toBe(true);
    expect(meansNoLeader(new errors.RequestError('request failed', { cause: new errors.TimeoutError() }))).toBe(true);
    expect(meansNoLeader(new errors.RequestError('no responders', { cause: new errors.NoRespondersError('$JS.API.STREAM.INFO.DEBITS') }))).toBe(true);
  });

  it('is false for errors that say nothing about leaders', () => {
    expect(meansNoLeader(new errors.PermissionViolationError('Permissions Violation for Publish to "$JS.API.STREAM.INFO.DEBITS"', 'publish', '$JS.API.STREAM.INFO.DEBITS'))).toBe(false);
    expect(meansNoLeader(new errors.ClosedConnectionError())).toBe(false);
    expect(meansNoLeader(new Error('stream not found'))).toBe(false);
    expect(meansNoLeader(undefined)).toBe(false);
  });
});
