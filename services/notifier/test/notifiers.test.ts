// The configured notifiers end to end: the real conductor runs deploys, the notifier tells stand-ins of
// Slack (incoming webhook) and GitHub (commit statuses, deployments) that follow those APIs' documented
// request formats.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../../packages/bus/test/support/wait-for.js';
import { cleanUp, cleanups, deploymentIdOf, finished, passBuild, SHA } from '../../conductor/test/support/conductor-world.js';
import { FakeGitHub } from './support/fake-github.js';
import { FakeSlack } from './support/fake-slack.js';
import { notifierWorld } from './support/notifier-world.js';

afterEach(cleanUp);

const LINK = 'https://deploybus.example.com/deploys/{deploymentId}';

describe('notifiers', () => {
  it('tells Slack of each deploy queued, started, succeeded and failed, with app, env, ref, who, duration and a link; retries Slack outages', async () => {
    const slack = new FakeSlack();
    const slackUrl = await slack.start();
    cleanups.push(() => slack.stop());
    slack.failNext = 1;
    const w = await notifierWorld();
    await w.start();
    await w.startNotifier({ links: { deployment: LINK }, slack: [{ name: 'ops', webhookUrl: { env: 'SLACK_URL' }, env: 'production' }] }, { SLACK_URL: slackUrl });
    await passBuild(w);
    const ok = deploymentIdOf(await w.request({}));
    await finished(w, ok);
    await waitFor('three Slack messages', () => slack.messages.length === 3);
    const [queued, started, succeeded] = slack.messages.map((m) => m.text);
    expect(queued).toContain(':hourglass_flowing_sand: ada queued *shop*');
    expect(started).toMatch(/:rocket: ada is deploying \*shop\* 9fceb02d0ae598e95dc970b74767f19372d61af8 \(`9fceb02`\) to \*production\* \(3 hosts\)/);
    expect(succeeded).toMatch(/:white_check_mark: \*shop\* \S+ \(`9fceb02`\) is live in \*production\*: deployed by ada in \d+\.\d s \(3 hosts\) <https:\/\/deploybus\.example\.com\/deploys\/d-[0-9a-f]+\|details>/);
    expect(succeeded).toContain(`/deploys/${ok}|details>`);
    expect(slack.messages[2]?.blocks).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: succeeded } }]);
    expect(slack.requests).toBe(4); // the first try met a 500 and was retried

    w.fleet.behaviour.set('web2', 'fail');
    const bad = deploymentIdOf(await w.request({}));
    await finished(w, bad);
    await waitFor('the failure in Slack', () => slack.messages.some((m) => m.text.startsWith(':x:')));
    const failed = slack.messages.find((m) => m.text.startsWith(':x:'))?.text;
    expect(failed).toMatch(/:x: \*shop\* \S+ \(`9fceb02`\) failed in \*production\* \(deploy by ada, \d+\.\d s\): .*web2/);
    expect(failed).toContain(`/deploys/${bad}|details>`);
  });

  it('sets GitHub commit statuses (pending, success, failure) and a GitHub deployment with its statuses for the deployed sha', async () => {
    const github = new FakeGitHub('ghp_test_token');
    const apiUrl = await github.start();
    cleanups.push(() => github.stop());
    const w = await notifierWorld();
    await w.start();
    await w.startNotifier(
      {
        links: { deployment: LINK },
        github: [
          { name: 'statuses', apiUrl, token: { env: 'GH_TOKEN' }, repos: { shop: 'acme/shop' } },
          { name: 'deployments', apiUrl, token: { env: 'GH_TOKEN' }, repos: { shop: 'acme/shop' }, mode: 'deployment' },
        ],
      },
      { GH_TOKEN: 'ghp_test_token' },
    );
    await passBuild(w);
    const ok = deploymentIdOf(await w.request({}));
    await finished(w, ok);
    await waitFor('pending and success statuses', () => github.statuses.length === 2);
    expect(github.statuses.map((s) => [s.repo, s.sha, s.state, s.context])).toEqual([
      ['acme/shop', SHA, 'pending', 'deploybus/production'],
      ['acme/shop', SHA, 'success', 'deploybus/production'],
    ]);
    expect(github.statuses[1]?.targetUrl).toBe(`https://deploybus.example.com/deploys/${ok}`);
    expect(github.statuses[1]?.description).toBe('deployed to production (ada)');
    await waitFor('deployment statuses', () => (github.deployments[0]?.statuses.length ?? 0) === 2);
    expect(github.deployments.length).toBe(1);
    expect(github.deployments[0]).toMatchObject({ repo: 'acme/shop', sha: SHA, environment: 'production', payload: { deploybusDeploymentId: ok, app: 'shop' } });
    expect(github.deployments[0]?.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);

    w.fleet.behaviour.set('web1', 'fail');
    const bad = deploymentIdOf(await w.request({}));
    await finished(w, bad);
    await waitFor('the failure status', () => github.statuses.some((s) => s.state === 'failure'));
    expect(github.statuses.at(-1)?.description).toMatch(/^deploy to production failed: .*web1/);
    expect(github.statuses.every((s) => (s.description?.length ?? 0) <= 140)).toBe(true);
    await waitFor('a second GitHub deployment, failed', () => github.deployments[1]?.statuses.at(-1)?.state === 'failure');
    expect(github.deployments.length).toBe(2);
    expect(github.problems).toEqual([]);
  });

  it('a bad GitHub token is not retried forever: the notifier marks itself failing and keeps its place', async () => {
    const github = new FakeGitHub('the-right-token');
    const apiUrl = await github.start();
    cleanups.push(() => github.stop());
    const w = await notifierWorld();
    await w.start();
    const notifier = await w.startNotifier({ github: [{ name: 'statuses', apiUrl, token: { env: 'GH_TOKEN' }, repos: { shop: 'acme/shop' } }] }, { GH_TOKEN: 'a-wrong-token' });
    await passBuild(w);
    await finished(w, deploymentIdOf(await w.request({})));
    const { openSubscriptionStore } = await import('@deploybus/store');
    const store = await openSubscriptionStore(`sqlite:${w.dir}/notifier.db`);
    cleanups.push(() => store.close());
    await waitFor('github:statuses failing', async () => (await store.position('github:statuses'))?.state === 'failing');
    expect((await store.position('github:statuses'))?.lastError).toMatch(/HTTP 401: .*Bad credentials/);
    expect(github.statuses).toEqual([]);
    expect(notifier).toBeDefined();
  });
});

describe('jenkins notifier', () => {
  it('starts the configured Jenkins job once after a deploy succeeds (crumb, API token, parameters), and not after a failed one', async () => {
    const { FakeJenkins } = await import('../../jenkins-trigger/test/support/fake-jenkins.js');
    const jenkins = new FakeJenkins({ user: 'deploybot', token: 'jenkins-api-token-0123', jobs: ['qa/integration-tests'] });
    await jenkins.listen();
    cleanups.push(() => jenkins.close());
    jenkins.failNext(1, 503);
    const w = await notifierWorld();
    await w.start();
    await w.startNotifier(
      { jenkins: [{ name: 'integration', url: jenkins.url, user: 'deploybot', token: { env: 'JENKINS_TOKEN' }, job: 'qa/integration-tests', env: 'production', parameters: { SUITE: 'smoke' } }] },
      { JENKINS_TOKEN: 'jenkins-api-token-0123' },
    );
    await passBuild(w);
    w.fleet.behaviour.set('web3', 'fail');
    const bad = deploymentIdOf(await w.request({}));
    expect((await finished(w, bad)).type).toBe('deploy.failed');
    w.fleet.behaviour.delete('web3');
    const ok = deploymentIdOf(await w.request({}));
    expect((await finished(w, ok)).type).toBe('deploy.succeeded');
    await waitFor('the job queued in Jenkins', () => jenkins.queue.size === 1);
    const [item] = [...jenkins.queue.values()];
    expect(item?.job).toBe('qa/integration-tests');
    expect(Object.fromEntries(item?.parameters ?? [])).toEqual({ SUITE: 'smoke', APP: 'shop', ENV: 'production', REF: SHA, SHA, DEPLOYMENT_ID: ok });
    const posts = jenkins.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/buildWithParameters'));
    expect(jenkins.requests[0]?.status).toBe(503); // Jenkins' outage (on the crumb) was retried
    expect(posts.map((r) => r.status)).toEqual([201]);
    expect(posts.every((r) => r.user === 'deploybot' && r.crumb !== undefined)).toBe(true);
    // A later poll does not start it again.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(jenkins.queue.size).toBe(1);
  });
});
