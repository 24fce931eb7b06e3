// The machine a bench ran on, and its load, so every figure carries its noise.
import { cpus, loadavg, release, totalmem } from 'node:os';
import type { MachineInfo } from './bench-report.js';

export function roundedLoad(): number[] {
  return loadavg().map((v) => Math.round(v * 100) / 100);
}

export function machineInfo(loadavgAtStart: readonly number[]): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model ?? 'unknown',
    cpuCount: list.length,
    loadavgAtStart,
    loadavgAtEnd: roundedLoad(),
    node: process.version,
    platform: process.platform,
    osRelease: release(),
    totalMemoryMb: Math.round(totalmem() / 2 ** 20),
  };
}
