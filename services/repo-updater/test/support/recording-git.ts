// The real GitClient, with every call's arguments written down, so a test can say what git was asked.
import { GitClient, type MirrorState } from '@deploybus/git';
import type { MirrorGit } from '../../src/index.js';

export class RecordingGit implements MirrorGit {
  readonly calls: string[][] = [];
  private readonly real = new GitClient({ timeoutMs: 30_000 });

  ensureMirror(path: string, url: string): Promise<void> {
    this.calls.push(['ensureMirror', path, url]);
    return this.real.ensureMirror(path, url);
  }

  fetchMirror(path: string): Promise<MirrorState> {
    this.calls.push(['fetchMirror', path]);
    return this.real.fetchMirror(path);
  }

  mirrorState(path: string): Promise<MirrorState> {
    this.calls.push(['mirrorState', path]);
    return this.real.mirrorState(path);
  }
}
