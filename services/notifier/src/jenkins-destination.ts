// After a deploy succeeds, start a configured Jenkins job (an integration-test suite, say) with the
// app, environment, ref, commit and deployment id as build parameters, through the shared Jenkins
// client (crumbs, API token). Jenkins' own outages are retried by the scheduler; a refused token or a
// missing job is not (the notifier is then marked failing and keeps its place). A crash between Jenkins
// taking the build and the position being stored starts the job once more: at least once, like callbacks.
import { JenkinsClient, JenkinsError, type SecretLike } from '@deploybus/jenkins';
import type { Destination } from './destination.js';
import type { DeploymentFactsCache } from './deployment-facts.js';
import { DeliveryError } from './errors.js';

export interface JenkinsNotifierOptions {
  readonly name: string;
  readonly url: string;
  readonly user: string;
  readonly token: SecretLike;
  readonly job: string;
  readonly app?: string | undefined;
  readonly env?: string | undefined;
  /** Fixed extra parameters; APP, ENV, REF, SHA and DEPLOYMENT_ID are set by the notifier. */
  readonly parameters: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

export function jenkinsDestination(o: JenkinsNotifierOptions, deps: { facts: DeploymentFactsCache; client?: JenkinsClient }): Destination {
  const id = `jenkins:${o.name}`;
  const client = deps.client ?? new JenkinsClient({ url: o.url, user: o.user, token: o.token, requestTimeoutMs: o.timeoutMs });
  return {
    id,
    filter: { types: ['deploy.succeeded'], app: o.app, env: o.env },
    async deliver(event) {
      const s = await deps.facts.summaryOf(event);
      if (s === undefined) return;
      const parameters = {
        ...o.parameters,
        APP: s.app,
        ENV: s.env,
        REF: s.ref ?? '',
        SHA: s.sha ?? '',
        DEPLOYMENT_ID: s.deploymentId,
      };
      try {
        await client.triggerBuild(o.job, parameters);
      } catch (error) {
        if (error instanceof JenkinsError) throw new DeliveryError(id, error.message, error.transient, error.status, { cause: error });
        throw error;
      }
    },
  };
}
