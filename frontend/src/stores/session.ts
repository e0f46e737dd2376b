// The signed-in user: roles and Django permissions from /api/auth/me, and what they allow in the UI.
import { computed, reactive } from "vue";
import { api, ApiError } from "@/api/client";
import type { Me, Role } from "@/api/types";

interface SessionState {
  me: Me | null;
  loaded: boolean;
}

export const session = reactive<SessionState>({ me: null, loaded: false });

export const isAuthenticated = computed(() => session.me !== null);

export function hasRole(...roles: Role[]): boolean {
  return session.me !== null && session.me.roles.some((role) => roles.includes(role));
}

/** A Django permission such as "inventory.change_zone"; admins hold all. */
export function can(permission: string): boolean {
  const me = session.me;
  if (me === null) return false;
  if (me.roles.includes("admin")) return true;
  return me.permissions.includes(permission);
}

export function canAny(...permissions: string[]): boolean {
  return permissions.some((permission) => can(permission));
}

export async function loadSession(): Promise<Me | null> {
  try {
    session.me = await api.get<Me>("/api/auth/me");
  } catch (err) {
    if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 403)) throw err;
    session.me = null;
  } finally {
    session.loaded = true;
  }
  return session.me;
}

export async function login(username: string, password: string): Promise<Me> {
  await api.post("/api/auth/login", { username, password });
  const me = await loadSession();
  if (me === null) throw new ApiError(401, "not_authenticated", "Signed in, but the session was not kept.");
  return me;
}

export async function logout(): Promise<void> {
  try {
    await api.post("/api/auth/logout");
  } finally {
    session.me = null;
  }
}
