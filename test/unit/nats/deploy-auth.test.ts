// The NATS users deploy/ ships cannot drift from the code: the server's authorization block is
// the generator's output, every component's container connects as its own user with the
// password the server expects for it, and only the provisioning step is admin.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMPONENT_NAMES, NATS_IDENTITIES } from '../../../runtime/config/index.js';
import { natsPasswordEnv, natsServerAuthorization } from '../../../runtime/nats/permissions.js';
import { COMPONENTS } from '../../../cli/components.js';
import { DEPLOY, kustomize, parseEnvFile, yamlDocs } from '../../support/deploy-files.js';

const generated = natsServerAuthorization(COMPONENTS);

describe('deploy/ NATS users', () => {
  it('ships the authorization block `dialpay nats-config` generates, for compose and Kubernetes', () => {
    expect(readFileSync(join(DEPLOY, 'compose/nats-auth.conf'), 'utf8')).toBe(generated);
    expect(readFileSync(join(DEPLOY, 'k8s/nats-auth.conf'), 'utf8')).toBe(generated);
  });

  describe('docker compose', () => {
    const services = yamlDocs(join(DEPLOY, 'compose/docker-compose.yml'))[0].services as Record<string, any>;
    /** `${NAME:-default}` -> NAME */
    const variableOf = (value: string) => /^\$\{([A-Z_0-9]+):-[^}]+\}$/.exec(value)?.[1];

    it('runs every NATS node with the block, and the password of every user in its environment', () => {
      const nodes = Object.entries(services).filter(([, s]) => String(s.image).startsWith('nats:'));
      expect(nodes).toHaveLength(3);
      for (const [name, s] of nodes) {
        const mount = (s.volumes as string[]).find((v) => v.startsWith('./nats-auth.conf:'));
        expect(mount, name).toBeDefined();
        expect(s.command.slice(s.command.indexOf('--config'), s.command.indexOf('--config') + 2), name).toEqual(['--config', mount?.split(':')[1]]);
        for (const id of NATS_IDENTITIES) expect(variableOf(String(s.environment[natsPasswordEnv(id)])), `${name}: ${id}`).toBe(natsPasswordEnv(id));
      }
    });

    it('connects each component as its own user, with the password the server has for it; only provision is admin', () => {
      for (const c of COMPONENT_NAMES) {
        const env = services[c].environment;
        expect(env.DIALPAY__nats__auth__user, c).toBe(c);
        expect(variableOf(env.DIALPAY__nats__auth__password), c).toBe(natsPasswordEnv(c));
        expect(env.DIALPAY__nats__provisionAtStart, c).toBe('false');
        expect(Object.keys(services[c].depends_on), c).toContain('provision');
      }
      expect(services.provision.command[0]).toBe('provision');
      expect(services.provision.environment.DIALPAY__nats__auth__user).toBe('admin');
      expect(variableOf(services.provision.environment.DIALPAY__nats__auth__password)).toBe(natsPasswordEnv('admin'));
      const admins = Object.entries(services).filter(([, s]) => s.environment?.DIALPAY__nats__auth__user === 'admin').map(([n]) => n);
      expect(admins).toEqual(['provision']);
    });
  });

  describe('Kubernetes', () => {
    const built = kustomize(join(DEPLOY, 'k8s/base'));
    const secretKeys = parseEnvFile(join(DEPLOY, 'k8s/base/secret.example.env'));
    const envOf = (container: any) => new Map<string, any>((container.env ?? []).map((e: any) => [e.name, e]));

    it('connects each component Deployment as its own user, from its own key of dialpay-secrets', () => {
      const deployments = built.resources.filter((r) => r.kind === 'Deployment');
      for (const c of COMPONENT_NAMES) {
        const d = deployments.find((r) => r.metadata.name === `dialpay-${c}`);
        const main = d?.spec.template.spec.containers.find((k: any) => k.name === c);
        const env = envOf(main);
        expect(env.get('DIALPAY__nats__auth__user')?.value, c).toBe(c);
        expect(env.get('DIALPAY__nats__auth__password')?.valueFrom?.secretKeyRef, c).toEqual({ name: 'dialpay-secrets', key: `nats-${c}-password` });
        expect(secretKeys.has(`nats-${c}-password`), c).toBe(true);
      }
    });

    it('provisions as admin in a Job, and components do not provision at start', () => {
      const job = built.resources.find((r) => r.kind === 'Job' && r.metadata.name === 'dialpay-provision');
      const container = job?.spec.template.spec.containers[0];
      expect(container.args[0]).toBe('provision');
      expect(envOf(container).get('DIALPAY__nats__auth__user')?.value).toBe('admin');
      expect(envOf(container).get('DIALPAY__nats__auth__password')?.valueFrom?.secretKeyRef).toEqual({ name: 'dialpay-secrets', key: 'nats-admin-password' });
      const config = yamlDocs(join(DEPLOY, 'k8s/base/dialpay.yaml'))[0];
      expect(config.nats.provisionAtStart).toBe(false);
    });

    it('gives the NATS pods the block and every user password, from the same Secret keys', () => {
      const values = yamlDocs(join(DEPLOY, 'k8s/nats-values.yaml'))[0];
      expect(values.config.merge.$include).toBe('./dialpay-auth/auth.conf');
      const mount = values.container.patch.find((p: any) => p.value?.name === 'dialpay-auth');
      expect(mount.value.mountPath).toBe('/etc/nats-config/dialpay-auth');
      for (const id of NATS_IDENTITIES) {
        expect(values.container.env[natsPasswordEnv(id)]?.valueFrom?.secretKeyRef, id).toEqual({ name: 'dialpay-secrets', key: `nats-${id}-password` });
        expect(secretKeys.has(`nats-${id}-password`), id).toBe(true);
      }
    });
  });
});
