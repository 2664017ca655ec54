// The observability artefacts checked against the code: promtool accepts the
// Prometheus configs, the alert rules and their unit tests; every alert has a
// unit test that fires and one that stays quiet, and a runbook section; and
// every metric the alerts and the Grafana dashboard read is exported by the
// real components (all seven, started on throwaway engines, after a payment),
// with the labels the queries use.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { findBinary } from '../../runtime/engines/index.js';
import { COMPONENT_NAMES } from '../../runtime/config/index.js';
import { validateConfig } from '../../cli/config.js';
import { SimulatedCarrier } from '../../services/billing/index.js';
import { startPaymentsStack, type PaymentsStack } from '../support/payments-stack.js';
import { ROOT, exampleConfigRaw, waitFor } from '../support/stack.js';

const PROMETHEUS_DIR = join(ROOT, 'deploy/prometheus');
const ALERTS = join(PROMETHEUS_DIR, 'alerts.yml');
const ALERT_TESTS = join(PROMETHEUS_DIR, 'alerts.test.yml');
const DASHBOARD = join(ROOT, 'deploy/grafana/dialpay.json');
const RUNBOOK = join(ROOT, 'docs/runbook.md');

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}
interface AlertTest {
  readonly name: string;
  readonly alert_rule_test?: { alertname: string; exp_alerts?: { exp_labels?: Record<string, string> }[] }[];
}
interface Panel {
  readonly type: string;
  readonly title: string;
  readonly description?: string;
  readonly datasource?: { uid?: string };
  readonly targets?: { expr: string }[];
  readonly panels?: Panel[];
}

const rules: Rule[] = (parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const alertRules = rules.filter((r): r is Rule & { alert: string } => r.alert !== undefined);
const alertNames = [...new Set(alertRules.map((r) => r.alert))];
const recordedNames = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { schemaVersion: number; templating: { list: { name: string; type: string; query: unknown }[] }; panels: Panel[] };
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

/** Grafana's variables, replaced by what they stand for, so an expression is plain PromQL. */
function plainPromQl(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m').replace(/\$\{?operator\}?/g, '.*');
}
const dashboardExprs = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: plainPromQl(t.expr) })));
const queries = [...alertRules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })), ...rules.filter((r) => r.record).map((r) => ({ where: `record ${r.record}`, expr: r.expr })), ...dashboardExprs.map((d) => ({ where: `panel "${d.panel}"`, expr: d.expr }))];

async function run(
  command: string, args: readonly string[], options: { cwd?: string; input?: string } = {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { cwd: options.cwd }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
    child.stdin?.end(options.input ?? '');
  });
}

const promtool = findBinary('promtool');

describe('Prometheus configuration and alert rules', () => {
  it('promtool is installed (deploy/setup-debian.sh installs the prometheus package)', () => {
    expect(promtool).not.toBeNull();
  });

  it('promtool accepts the alert rules, and their unit tests pass', async () => {
    const checked = await run(promtool as string, ['check', 'rules', ALERTS]);
    expect(checked.output).toMatch(/SUCCESS/);
    expect(checked.code).toBe(0);
    const tested = await run(promtool as string, ['test', 'rules', ALERT_TESTS], { cwd: PROMETHEUS_DIR });
    expect(tested.output).not.toMatch(/FAILED/);
    expect(tested.code).toBe(0);
  });

  it('the compose config scrapes every component on its default ops port, and promtool accepts it', async () => {
    const config = parse(readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as { rule_files: string[]; scrape_configs: { static_configs: { targets: string[] }[] }[] };
    expect(config.rule_files).toEqual(['alerts.yml']);
    const targets = config.scrape_configs.flatMap((s) => s.static_configs.flatMap((c) => c.targets)).sort();
    const opsPorts = validateConfig(exampleConfigRaw()).http.opsPorts;
    expect(targets).toEqual(COMPONENT_NAMES.map((name) => `${name}:${opsPorts[name]}`).sort());
    const checked = await run(promtool as string, ['check', 'config', join(PROMETHEUS_DIR, 'prometheus.yml')]);
    expect(checked.code, checked.output).toBe(0);
  });

  it('the Kubernetes config keeps annotated pods on their annotated port, and promtool accepts its relabelling', async () => {
    const config = parse(readFileSync(join(PROMETHEUS_DIR, 'prometheus-k8s.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { kubernetes_sd_configs?: unknown; static_configs?: unknown; relabel_configs: { source_labels?: string[] }[] }[];
    };
    expect(config.rule_files).toEqual(['alerts.yml']);
    const sources = config.scrape_configs.flatMap((s) => s.relabel_configs.flatMap((r) => r.source_labels ?? []));
    expect(sources).toContain('__meta_kubernetes_pod_annotation_prometheus_io_scrape');
    expect(sources).toContain('__meta_kubernetes_pod_annotation_prometheus_io_port');
    // Debian's Prometheus is built without Kubernetes discovery: check everything else, with a static target in its place.
    for (const scrape of config.scrape_configs) {
      expect(scrape.kubernetes_sd_configs).toBeDefined();
      delete scrape.kubernetes_sd_configs;
      scrape.static_configs = [{ targets: ['127.0.0.1:9100'] }];
    }
    const dir = mkdtempSync(join(tmpdir(), 'dialpay-prometheus-'));
    writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
    copyFileSync(ALERTS, join(dir, 'alerts.yml'));
    const checked = await run(promtool as string, ['check', 'config', join(dir, 'prometheus.yml')]);
    expect(checked.code, checked.output).toBe(0);
  });

  it('every alert has a severity, a summary, a description and a runbook_url to its own section of docs/runbook.md', () => {
    const runbook = readFileSync(RUNBOOK, 'utf8');
    const sections = new Map([...runbook.matchAll(/^## (\S+)\n([\s\S]*?)(?=^## |(?![\s\S]))/gm)].map((m) => [m[1] as string, m[2] as string]));
    expect(alertNames.length).toBeGreaterThanOrEqual(9);
    for (const rule of alertRules) {
      expect(['critical', 'warning'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      // GitHub's anchor for a heading that is one word: the word in lower case.
      expect(rule.annotations?.runbook_url, rule.alert).toBe(`docs/runbook.md#${rule.alert.toLowerCase()}`);
      const section = sections.get(rule.alert);
      expect(section, `runbook section "## ${rule.alert}"`).toBeDefined();
      for (const part of ['**Meaning.**', '**Confirm.**', '**Act.**']) expect(section, `${rule.alert}: ${part}`).toContain(part);
    }
    // And no section for an alert that no longer exists.
    expect([...sections.keys()].filter((s) => s.startsWith('Dialpay') && !alertNames.includes(s))).toEqual([]);
  });

  it('every alert rule has a unit test that fires it, and every alert one that expects quiet', () => {
    const tests = (parse(readFileSync(ALERT_TESTS, 'utf8')) as { rule_files: string[]; tests: AlertTest[] });
    expect(tests.rule_files).toEqual(['alerts.yml']);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const rule of alertRules) {
      const fired = cases.some((c) => c.alertname === rule.alert
        && (c.exp_alerts ?? []).some((a) => a.exp_labels?.severity === rule.labels?.severity));
      expect(fired, `a test where ${rule.alert} fires with severity ${rule.labels?.severity}`).toBe(true);
    }
    for (const name of alertNames) {
      expect(cases.some((c) => c.alertname === name && (c.exp_alerts ?? []).length === 0), `a test where ${name} stays quiet`).toBe(true);
    }
    for (const c of cases) expect(alertNames, `test for unknown alert ${c.alertname}`).toContain(c.alertname);
  });

  it('the confirmation SLO reads the 0.25 s bucket of the latency histogram', () => {
    const slo = rules.filter((r) => r.record?.startsWith('dialpay:payments_confirmation_slow:'));
    expect(slo.length).toBeGreaterThanOrEqual(4);
    for (const r of slo) expect(r.expr).toContain('dialpay_payments_confirmation_to_receipt_seconds_bucket{le="0.25"}');
  });
});

describe('Grafana dashboard', () => {
  it('is a schema 39 dashboard on a Prometheus datasource variable, with a panel for every alert', () => {
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    for (const p of panels.filter((p) => p.type !== 'row')) expect(p.datasource?.uid, p.title).toBe('${datasource}');
    for (const name of alertNames) expect(panels.some((p) => p.description?.includes(name)), `a panel naming ${name}`).toBe(true);
    for (const basic of ['dialpay_payments_outcomes_total', 'dialpay_smpp_pdus_total', 'dialpay_ussd_hops_total', 'dialpay_nats_handler_duration_seconds_bucket']) {
      expect(dashboardExprs.some((d) => d.expr.includes(basic)), basic).toBe(true);
    }
  });

  it('every panel query is valid PromQL, and recorded series it reads are recorded in alerts.yml', async () => {
    for (const { panel, expr } of dashboardExprs) {
      for (const recorded of expr.match(/\bdialpay:[a-z0-9_:]+/g) ?? []) expect(recordedNames, `${panel}: ${recorded}`).toContain(recorded);
    }
    // promtool has no expression checker; as recording rules, it parses them all.
    const dir = mkdtempSync(join(tmpdir(), 'dialpay-dashboard-'));
    const file = join(dir, 'dashboard-queries.yml');
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: dashboardExprs.map((d, i) => ({ record: `dashboard:query_${i}`, expr: d.expr })) }] }));
    const checked = await run(promtool as string, ['check', 'rules', file]);
    expect(checked.code, checked.output).toBe(0);
  });
});

// --- the metrics the running code exports ---------------------------------

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}
interface Scrape {
  readonly body: string;
  readonly types: Map<string, string>;
  readonly samples: Sample[];
}

function parseExposition(body: string): Scrape {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of body.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    if (line === '' || line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!sample) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1] as string] = m[2] as string;
    samples.push({ name: sample[1] as string, labels, value: Number(sample[3]) });
  }
  return { body, types, samples };
}

/** The metric family a series name belongs to: a histogram's _bucket, _sum and _count are its own. */
function familyOf(name: string, types: ReadonlyMap<string, string>): string | null {
  if (types.has(name)) return name;
  const suffixed = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (suffixed) {
    const base = suffixed[1] as string;
    const type = types.get(base);
    if (type === 'histogram' || (type === 'summary' && suffixed[2] !== 'bucket')) return base;
  }
  return null;
}

/** Label names a query filters on or groups by. */
function labelNamesIn(expr: string): string[] {
  const names = new Set<string>();
  for (const selector of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const m of (selector[1] as string).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) names.add(m[1] as string);
  }
  for (const clause of expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)) {
    for (const n of (clause[1] as string).split(',').map((s) => s.trim()).filter(Boolean)) names.add(n);
  }
  return [...names];
}

describe('metrics the alerts and the dashboard read, against the running components', () => {
  let p: PaymentsStack;
  const scrapes = new Map<string, Scrape>();

  beforeAll(async () => {
    p = await startPaymentsStack(new SimulatedCarrier({ openingBalanceMinor: 1_000_000n }));
    // Traffic, so that the label check below has series to look at: a payment end to end, and a lost bind.
    await p.payBySms('254711900001', 'SHOP42', '500');
    p.sim.unbindAll();
    await waitFor('the gateway counted the lost bind and bound again', async () => {
      const text = await (await fetch(`http://127.0.0.1:${p.host.opsPorts.gateway}/metrics`)).text();
      return /^dialpay_smpp_bind_losses_total\{[^}]*operator="safaricom-ke"[^}]*\} 1$/m.test(text) && /^dialpay_smpp_binds_up\{[^}]*operator="safaricom-ke"[^}]*\} 1$/m.test(text);
    });
    for (const name of COMPONENT_NAMES) {
      const port = p.host.opsPorts[name];
      expect(port, `ops port of ${name}`).toBeDefined();
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      scrapes.set(name, parseExposition(await res.text()));
    }
  });
  afterAll(async () => {
    await p?.cleanup();
  });

  it('every component serves metrics that promtool check metrics accepts', async () => {
    expect([...scrapes.keys()].sort()).toEqual([...COMPONENT_NAMES].sort());
    for (const [name, scrape] of scrapes) {
      const checked = await run(promtool as string, ['check', 'metrics'], { input: scrape.body });
      expect(checked.output.split('\n').filter((l) => l.includes('dialpay_')), name).toEqual([]);
      expect(checked.code, `${name}: ${checked.output}`).toBe(0);
    }
  });

  it('every dialpay_ metric named in alerts.yml, the dashboard and the runbook is exported', () => {
    const types = new Map<string, string>();
    for (const scrape of scrapes.values()) for (const [n, t] of scrape.types) types.set(n, t);
    const used = new Set(queries.flatMap((q) => q.expr.match(/\bdialpay_[a-zA-Z0-9_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(15);
    const missing = [...used].filter((name) => familyOf(name, types) === null).sort();
    expect(missing, 'metrics used by alerts or panels that no component exports').toEqual([]);
    const inRunbook = new Set(readFileSync(RUNBOOK, 'utf8').match(/\bdialpay_[a-zA-Z0-9_]+/g) ?? []);
    expect([...inRunbook].filter((name) => familyOf(name, types) === null).sort(), 'metrics the runbook names that no component exports').toEqual([]);
  });

  it('every label a query filters or groups on exists on the series it reads', () => {
    const all = [...scrapes.values()];
    const labelsOf = (name: string): Set<string> | null => {
      const found = new Set<string>();
      let any = false;
      for (const scrape of all) {
        const family = familyOf(name, scrape.types);
        if (!family) continue;
        for (const s of scrape.samples) {
          if (s.name !== name) continue;
          any = true;
          for (const l of Object.keys(s.labels)) found.add(l);
        }
      }
      return any ? found : null;
    };
    let checked = 0;
    const wrong: string[] = [];
    for (const q of queries) {
      const metrics = [...new Set(q.expr.match(/\bdialpay_[a-zA-Z0-9_]+/g) ?? [])];
      if (metrics.length === 0) continue;
      const known = metrics.map(labelsOf);
      // Only where every metric of the query has series now; the others have no samples to compare with.
      if (known.some((k) => k === null)) continue;
      checked++;
      // Target labels Prometheus adds, and the ones the recording rules keep.
      const labels = new Set(['job', 'instance', 'namespace', 'pod', ...known.flatMap((k) => [...(k as Set<string>)])]);
      for (const l of labelNamesIn(q.expr)) if (!labels.has(l)) wrong.push(`${q.where}: label "${l}" is on none of ${metrics.join(', ')}`);
    }
    expect(wrong).toEqual([]);
    expect(checked, 'queries whose labels could be checked').toBeGreaterThan(20);
  });

  it('the new metrics count what they say: a completed SMS payment, its confirmation latency, a lost bind, consumer backlogs, cluster health', () => {
    const sample = (component: string, name: string, labels: Record<string, string>) =>
      scrapes.get(component)?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    expect(sample('payments', 'dialpay_payments_outcomes_total', { channel: 'sms', outcome: 'completed', reason: 'none' })?.value).toBe(1);
    expect(sample('payments', 'dialpay_payments_confirmation_to_receipt_seconds_count', { channel: 'sms' })?.value).toBe(1);
    expect(sample('payments', 'dialpay_payments_confirmation_to_receipt_seconds_bucket', { channel: 'sms', le: '0.25' })).toBeDefined();
    expect(sample('payments', 'dialpay_payments_confirmation_to_receipt_seconds_bucket', { channel: 'sms', le: '+Inf' })?.value).toBe(1);
    expect(sample('gateway', 'dialpay_smpp_bind_losses_total', { operator: 'safaricom-ke', mode: 'client' })?.value).toBe(1);
    expect(sample('gateway', 'dialpay_smpp_binds_up', { operator: 'safaricom-ke', mode: 'client' })?.value).toBe(1);
    // A server-mode operator nobody bound to: a 0, not a missing series, so the bind-down alert sees it.
    expect(sample('gateway', 'dialpay_smpp_binds_up', { operator: 'orange-sn', mode: 'server' })?.value).toBe(0);
    expect(sample('gateway', 'dialpay_smpp_bind_losses_total', { operator: 'orange-sn', mode: 'server' })?.value).toBe(0);
    for (const [component, consumer] of [['payments', 'payments-sms-inbound'], ['billing', 'billing-debit-capture'], ['gateway', 'gateway-sms-outbound'], ['webhooks', 'webhooks-delivery']] as const) {
      expect(sample(component, 'dialpay_nats_consumer_pending_messages', { consumer })?.value, consumer).toBeGreaterThanOrEqual(0);
      expect(sample(component, 'dialpay_nats_messages_handled_total', { consumer, outcome: 'dead_lettered' })?.value, consumer).toBe(0);
    }
    // The health watchers on one NATS server and one PostgreSQL without standbys: leaders known, nothing lagging, no standby, no failover.
    expect(sample('billing', 'dialpay_nats_stream_leader_known', { stream: 'DEBITS' })?.value).toBe(1);
    expect(sample('billing', 'dialpay_nats_stream_replicas_lagging', { stream: 'DEBITS' })?.value).toBe(0);
    expect(sample('payments', 'dialpay_nats_consumer_leader_known', { stream: 'SMS_INBOUND', consumer: 'payments-sms-inbound' })?.value).toBe(1);
    expect(sample('payments', 'dialpay_nats_stream_leader_changes_total', { stream: 'SMS_INBOUND' })?.value).toBe(0);
    expect(sample('billing', 'dialpay_postgres_standbys_streaming', {})?.value).toBe(0);
    expect(sample('billing', 'dialpay_postgres_servers', {})?.value).toBe(1);
    expect(sample('billing', 'dialpay_postgres_failovers_total', {})?.value).toBe(0);
    expect(sample('billing', 'dialpay_postgres_standby_lag_bytes', {})).toBeUndefined();
    // The gateway keeps no data in PostgreSQL: no PostgreSQL health series.
    expect(scrapes.get('gateway')?.types.has('dialpay_postgres_failovers_total')).toBe(false);
  });
});
