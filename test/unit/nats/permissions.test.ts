// The permissions table against the topology and the contracts: every consumer, request and event
// has its owner, nothing but billing may consume debit requests, and the generated server block
// grants each user exactly its table row.
import { describe, expect, it } from 'vitest';
import { COMPONENT_NAMES, type ComponentName } from '../../../runtime/config/index.js';
import { composeTopology, Events, KV_BUCKETS, Requests, SMS_PARTS_BUCKET } from '../../../runtime/nats/index.js';
import { NATS_ACCESS, natsPermissions as permissionsFor, natsServerAuthorization } from '../../../runtime/nats/permissions.js';
import { COMPONENTS, TOPOLOGY, componentByName } from '../../../cli/components.js';

/** The publish and subscribe allow lists of one user in the generated block. */
function userBlock(text: string, user: string): { publish: string[]; subscribe: string[]; allowResponses: boolean } {
  const start = text.indexOf(`user: "${user}"`);
  expect(start, user).toBeGreaterThan(0);
  const end = text.indexOf('\n    }', start);
  const block = text.slice(start, end);
  const list = (key: string) => JSON.parse(`[${/\[([^\]]*)\]/.exec(block.slice(block.indexOf(`${key}: { allow:`)))?.[1] ?? ''}]`) as string[];
  return { publish: list('publish'), subscribe: list('subscribe'), allowResponses: block.includes('allow_responses: true') };
}

/** With the consumers the components declare, as `dialpay nats-config` generates them. */
const natsPermissions = (identity: ComponentName | 'admin') => permissionsFor(identity, COMPONENTS);
const consumesOf = (c: ComponentName) => componentByName(c).consumers;

const owners = (pick: (c: ComponentName) => readonly string[], item: string) => COMPONENT_NAMES.filter((c) => pick(c).includes(item));

describe('NATS permissions table', () => {
  it('gives every durable consumer of the topology to exactly one component', () => {
    for (const spec of TOPOLOGY.consumers) {
      expect(owners((c) => consumesOf(c).map((s) => s.durableName), spec.durableName), spec.durableName).toHaveLength(1);
    }
    // Two components declaring one durable name would reconfigure each other's consumer at every start.
    const webhooks = componentByName('webhooks');
    expect(() => composeTopology([...COMPONENTS, { name: 'copy', consumers: webhooks.consumers }])).toThrow(/webhooks-delivery is declared by both webhooks and copy/);
    expect(() => composeTopology([{ name: 'stray', consumers: [{ ...webhooks.consumers[0]!, stream: 'NOPE' }] }])).toThrow(/no stream of the topology/);
  });

  it('names each durable consumer after the component that declares it', () => {
    for (const component of COMPONENTS) {
      for (const spec of component.consumers) expect(spec.durableName.startsWith(`${component.name}-`), spec.durableName).toBe(true);
    }
  });

  it('refuses to name the permissions of a component whose consumers it was not given', () => {
    expect(() => permissionsFor('billing', COMPONENTS.filter((c) => c.name !== 'billing'))).toThrow(/no component billing/);
  });

  it('lets nothing but billing pull or ack debit requests', () => {
    for (const c of COMPONENT_NAMES) {
      const { publish } = natsPermissions(c);
      const debitRequests = publish.filter((s) => /^\$JS\.(API\.CONSUMER\.MSG\.NEXT|ACK|ACK\.\*\.\*)\.DEBITS\.billing-/.test(s));
      if (c === 'billing') expect(debitRequests).toHaveLength(15); // 5 consumers (reserve, capture, void, refund, credit) x 3
      else expect(debitRequests, c).toEqual([]);
      // Creating a consumer is provisioning: admin's alone.
      expect(publish.filter((s) => s.includes('CONSUMER.CREATE') || s.includes('CONSUMER.DURABLE') || s.includes('STREAM.CREATE')), c).toEqual([]);
    }
  });

  it('lets only the consumers of the SMS streams read their retention, erase from them and purge what they handled', () => {
    for (const verb of ['MSG.DELETE', 'PURGE']) {
      const erasers = (stream: string) => owners((c) => natsPermissions(c).publish, `$JS.API.STREAM.${verb}.${stream}`);
      expect(erasers('SMS_INBOUND'), verb).toEqual(['payments']);
      expect(erasers('SMS_OUTBOUND'), verb).toEqual(['gateway']);
    }
    for (const c of COMPONENT_NAMES) {
      const erasing = natsPermissions(c).publish.filter((s) => /^\$JS\.API\.STREAM\.(MSG\.DELETE|PURGE)\./.test(s));
      expect(erasing.every((s) => /\.SMS_(INBOUND|OUTBOUND)$/.test(s)), c).toBe(true);
      // Nothing may delete a stream.
      expect(natsPermissions(c).publish.filter((s) => /STREAM\.DELETE\./.test(s)), c).toEqual([]);
    }
  });

  it('lets each component read the info of its own consumers and of the streams they read (the health watcher), and no other stream\'s', () => {
    for (const c of COMPONENT_NAMES) {
      const { publish } = natsPermissions(c);
      const a = NATS_ACCESS[c];
      for (const spec of consumesOf(c)) {
        expect(publish, `${c}: ${spec.stream}`).toContain(`$JS.API.STREAM.INFO.${spec.stream}`);
        expect(publish, `${c}: ${spec.durableName}`).toContain(`$JS.API.CONSUMER.INFO.${spec.stream}.${spec.durableName}`);
      }
      const readable = new Set([...consumesOf(c).map((s) => s.stream), ...a.readsStreams, ...a.kvBuckets.map((b) => `KV_${b}`)]);
      const streamInfo = publish.filter((s) => s.startsWith('$JS.API.STREAM.INFO.')).map((s) => s.slice('$JS.API.STREAM.INFO.'.length));
      expect(streamInfo.filter((s) => !readable.has(s)), c).toEqual([]);
      expect(streamInfo.some((s) => s.includes('*') || s.includes('>')), c).toBe(false);
    }
    // The billing consumers read DEBITS, a limits stream: its info, but not erasing from it.
    expect(natsPermissions('billing').publish).toContain('$JS.API.STREAM.INFO.DEBITS');
    expect(natsPermissions('webhooks').publish).toContain('$JS.API.STREAM.INFO.MERCHANT_EVENTS');
  });

  it('has every request served by exactly one component, and only its callers may send it', () => {
    for (const def of Object.values(Requests)) {
      expect(owners((c) => NATS_ACCESS[c].serves.map((r) => r.subject), def.subject), def.subject).toHaveLength(1);
      const senders = owners((c) => natsPermissions(c).publish, def.subject);
      expect(senders, def.subject).toEqual(owners((c) => NATS_ACCESS[c].requests.map((r) => r.subject), def.subject));
    }
    expect(owners((c) => natsPermissions(c).publish, Requests.paymentsMerchant.subject)).toEqual(['gateway']);
    // The operator API's deposits: only the gateway asks, only payments answers.
    expect(owners((c) => natsPermissions(c).publish, Requests.paymentsOperator.subject)).toEqual(['gateway']);
    expect(owners((c) => natsPermissions(c).subscribe, Requests.paymentsOperator.subject)).toEqual(['payments']);
    // Agents' floats over the operator API: only payments asks billing (the gateway never books), only billing answers.
    expect(owners((c) => natsPermissions(c).publish, Requests.billingAgentFloat.subject)).toEqual(['payments']);
    expect(owners((c) => natsPermissions(c).subscribe, Requests.billingAgentFloat.subject)).toEqual(['billing']);
  });

  it('gives each KV bucket of the topology to the components that use it: long-message parts to the gateway only', () => {
    for (const spec of KV_BUCKETS) expect(owners((c) => NATS_ACCESS[c].kvBuckets, spec.bucket).length, spec.bucket).toBeGreaterThan(0);
    expect(owners((c) => NATS_ACCESS[c].kvBuckets, SMS_PARTS_BUCKET)).toEqual(['gateway']);
    expect(owners((c) => natsPermissions(c).publish, `$KV.${SMS_PARTS_BUCKET}.>`)).toEqual(['gateway']);
    expect(natsPermissions('gateway').publish.filter((s) => s.includes(SMS_PARTS_BUCKET))).toHaveLength(5);
  });

  it('has every event published by some component, and each component subscribes to its own inbox only', () => {
    for (const def of Object.values(Events)) {
      expect(owners((c) => NATS_ACCESS[c].publishes.map((e) => e.subject), def.subject).length, def.subject).toBeGreaterThan(0);
    }
    for (const c of COMPONENT_NAMES) {
      const { subscribe, publish } = natsPermissions(c);
      expect(subscribe.filter((s) => s.startsWith('_INBOX')), c).toEqual([`_INBOX_${c}.>`]);
      for (const s of [...subscribe, ...publish]) expect(s === '>' || s.startsWith('>'), `${c}: ${s}`).toBe(false);
    }
    expect(natsPermissions('admin')).toEqual({ publish: ['>'], subscribe: ['>'], allowResponses: false });
  });

  it('generates a server block that grants each user exactly its row, with password references only', () => {
    const text = natsServerAuthorization(COMPONENTS);
    for (const c of [...COMPONENT_NAMES, 'admin'] as const) {
      const p = natsPermissions(c);
      expect(userBlock(text, c), c).toEqual({ publish: p.publish, subscribe: p.subscribe, allowResponses: p.allowResponses });
    }
    expect(text).toContain('password: $DIALPAY_NATS_GATEWAY_PASSWORD\n');
    expect(text.match(/password: /g)).toHaveLength(COMPONENT_NAMES.length + 1);
    expect(text.match(/password: \$DIALPAY_NATS_[A-Z]+_PASSWORD\n/g)).toHaveLength(COMPONENT_NAMES.length + 1);
  });
});
