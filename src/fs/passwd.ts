// /etc/passwd and /etc/group parsing and `User` resolution with the semantics of runc's
// GetExecUser, which Docker and containerd both use, so `user`, `user:group`, numeric ids
// and supplementary groups come out as they would under `docker run`.

import { ImageError } from '../../oci/errors.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface ExecUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** The passwd name when the user was found there. */
  name?: string;
  home: string;
}

/** Lines that are blank, comments, NIS `+`/`-` hooks or have non-numeric ids are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const f of fields(text)) {
    const uid = id(f[2]);
    const gid = id(f[3]);
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: f[0]!, uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const f of fields(text)) {
    const gid = id(f[2]);
    if (gid === undefined) continue;
    const members = (f[3] ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '');
    out.push({ name: f[0]!, gid, members });
  }
  return out;
}

/**
 * Resolve an image config `User` value (`''`, `name`, `uid`, `name:group`, `uid:gid`, …).
 * - '' means uid 0, looked up in passwd like `0`.
 * - A numeric uid missing from passwd runs with gid 0; a missing name throws UNKNOWN_USER.
 * - An explicit group sets the primary gid (a numeric one need not exist; a missing name
 *   throws UNKNOWN_GROUP) and, as in runc, then no supplementary groups are added.
 * - Otherwise the supplementary gids are those of groups listing the user's name.
 */
export function resolveUser(spec: string, passwd: PasswdEntry[], group: GroupEntry[]): ExecUser {
  const colon = spec.indexOf(':');
  const userArg = colon < 0 ? spec : spec.slice(0, colon);
  const groupArg = colon < 0 ? '' : spec.slice(colon + 1);
  const user: ExecUser = { uid: 0, gid: 0, additionalGids: [], home: '/' };

  const uidArg = userArg === '' ? 0 : id(userArg);
  const found = passwd.find((p) => (uidArg === undefined ? p.name === userArg : p.uid === uidArg));
  if (found) {
    user.uid = found.uid;
    user.gid = found.gid;
    user.name = found.name;
    user.home = found.home || '/';
  } else if (uidArg !== undefined) {
    user.uid = uidArg;
  } else {
    throw new ImageError('UNKNOWN_USER', `user ${JSON.stringify(userArg)} not found in the image's /etc/passwd`);
  }

  if (groupArg !== '') {
    const gidArg = id(groupArg);
    const g = group.find((e) => (gidArg === undefined ? e.name === groupArg : e.gid === gidArg));
    if (g) user.gid = g.gid;
    else if (gidArg !== undefined) user.gid = gidArg;
    else throw new ImageError('UNKNOWN_GROUP', `group ${JSON.stringify(groupArg)} not found in the image's /etc/group`);
  } else if (user.name !== undefined) {
    const name = user.name;
    const gids = group.filter((g) => g.members.includes(name)).map((g) => g.gid);
    user.additionalGids = [...new Set(gids)];
  }
  return user;
}

function* fields(text: string): Iterable<string[]> {
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('+') || line.startsWith('-')) continue;
    const f = line.split(':');
    if (f[0] === '') continue;
    yield f;
  }
}

/** A decimal id in the range Linux accepts, or undefined. */
function id(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 0x7fffffff ? n : undefined;
}
