// Where a Jenkins job lives: folders joined by "/" in its full name, "/job/NAME" per segment in URLs.

/** "team/shop-ci" -> "/job/team/job/shop-ci", each segment URL-encoded. */
export function jobPath(job: string): string {
  return job
    .split('/')
    .map((segment) => `/job/${encodeURIComponent(segment)}`)
    .join('');
}
