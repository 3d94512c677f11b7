/**
 * Matching row ids across files that name the same study differently.
 *
 * Ids are compared as `/`-separated paths (backslashes, surrounding spaces and trailing slashes ignored). A key
 * matches a reference id when it is equal to it; or when, taking the key or one of its ancestor folders, a
 * trailing run of at least two segments equals a trailing run of the reference id's segments and names that one
 * reference only. So `CheXpert-v1.0/test/patient64741/study1` (a radiologist's file) matches the reader's
 * `test/patient64741/study1`, and `…/study1/view1_frontal.jpg` (a per-image prediction) matches its study.
 */
export function normalizeId(id: string): string {
  return id.trim().replace(/\\/g, '/').replace(/\/+/g, '/').replace(/^\.\//, '').replace(/\/$/, '');
}

const AMBIGUOUS = Symbol('ambiguous');

export class IdMatcher {
  private readonly exact = new Map<string, string>();
  private readonly suffix = new Map<string, string | typeof AMBIGUOUS>();

  /** `ids`: the reference ids (e.g. the ground truth's), each returned as given by `match`. */
  constructor(ids: Iterable<string>) {
    for (const id of ids) {
      const n = normalizeId(id);
      this.exact.set(n, id);
      const segs = n.split('/');
      for (let j = 0; j + 2 <= segs.length; j++) {
        const k = segs.slice(j).join('/');
        const prev = this.suffix.get(k);
        this.suffix.set(k, prev === undefined || prev === id ? id : AMBIGUOUS);
      }
    }
  }

  /** The reference id `key` stands for, or undefined. */
  match(key: string): string | undefined {
    const n = normalizeId(key);
    const hit = this.exact.get(n);
    if (hit !== undefined) return hit;
    const segs = n.split('/');
    for (let end = segs.length; end >= 2; end--) {
      for (let start = 0; start + 2 <= end; start++) {
        const v = this.suffix.get(segs.slice(start, end).join('/'));
        if (v !== undefined && v !== AMBIGUOUS) return v;
      }
    }
    return undefined;
  }
}
