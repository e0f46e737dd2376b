import { defineComponent } from "vue";
import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
import { loadSession, session } from "@/stores/session";
import {
  ADMIN_SECTIONS,
  canAdminister,
  canSeeAnalytics,
  canSeeChain,
  canSeeLive,
  canSeeSecurity,
  homePath,
} from "@/utils/access";

declare module "vue-router" {
  interface RouteMeta {
    public?: boolean;
    allowed?: () => boolean;
    title?: string;
  }
}

const adminChildren: RouteRecordRaw[] = [
  { path: "sites", name: "admin-sites", component: () => import("@/pages/admin/SitesAdmin.vue") },
  { path: "zones", name: "admin-zones", component: () => import("@/pages/admin/ZonesAdmin.vue") },
  { path: "floor-plan", name: "admin-floor-plan", component: () => import("@/pages/admin/FloorPlanAdmin.vue") },
  { path: "cameras", name: "admin-cameras", component: () => import("@/pages/admin/CamerasAdmin.vue") },
  { path: "devices", name: "admin-devices", component: () => import("@/pages/admin/DevicesAdmin.vue") },
  { path: "people", name: "admin-people", component: () => import("@/pages/admin/PeopleAdmin.vue") },
  { path: "users", name: "admin-users", component: () => import("@/pages/admin/UsersAdmin.vue") },
  { path: "audit", name: "admin-audit", component: () => import("@/pages/admin/AuditLogAdmin.vue") },
  {
    path: "notifications",
    name: "admin-notifications",
    component: () => import("@/pages/admin/NotificationsAdmin.vue"),
  },
  { path: "privacy", name: "admin-privacy", component: () => import("@/pages/admin/PrivacyAdmin.vue") },
].map((route) => {
  const section = ADMIN_SECTIONS.find((s) => s.name === route.name);
  return { ...route, meta: { allowed: section?.allowed, title: section?.title } };
});

// "/" and "/admin-ui" send each user to the first page their role may open. Not as `redirect`: vue-router resolves
// a redirect before the guards run, so on a page load (the session not read yet) every page looked forbidden, and
// opening the server's address sent a signed-in user to "Not available for your role". `beforeEnter` runs after
// the global guard below has read the session.
const Resolving = defineComponent({ name: "Resolving", render: () => null });

const routes: RouteRecordRaw[] = [
  { path: "/", name: "home", component: Resolving, beforeEnter: () => homePath() },
  { path: "/login", name: "login", component: () => import("@/pages/LoginPage.vue"), meta: { public: true } },
  { path: "/live", name: "live", component: () => import("@/pages/LivePage.vue"), meta: { title: "Live", allowed: canSeeLive } },
  { path: "/heatmap", name: "heatmap", component: () => import("@/pages/HeatmapPage.vue"), meta: { title: "Heat map", allowed: canSeeAnalytics } },
  { path: "/flow", name: "flow", component: () => import("@/pages/FlowPage.vue"), meta: { title: "Flow", allowed: canSeeAnalytics } },
  {
    path: "/distancing",
    name: "distancing",
    component: () => import("@/pages/DistancingPage.vue"),
    meta: { title: "Social distancing", allowed: canSeeAnalytics },
  },
  {
    path: "/security",
    name: "security",
    component: () => import("@/pages/SecurityPage.vue"),
    meta: { title: "Security", allowed: canSeeSecurity },
  },
  { path: "/reports", name: "reports", component: () => import("@/pages/ReportsPage.vue"), meta: { title: "Reports", allowed: canSeeAnalytics } },
  { path: "/chain", name: "chain", component: () => import("@/pages/ChainPage.vue"), meta: { title: "Chain overview", allowed: canSeeChain } },
  {
    path: "/admin-ui",
    name: "admin",
    component: () => import("@/pages/admin/AdminLayout.vue"),
    meta: { title: "Administration", allowed: canAdminister },
    children: [
      {
        path: "",
        name: "admin-home",
        component: Resolving,
        beforeEnter: () => ({ name: ADMIN_SECTIONS.find((s) => s.allowed())?.name ?? "forbidden" }),
      },
      ...adminChildren,
    ],
  },
  { path: "/forbidden", name: "forbidden", component: () => import("@/pages/ForbiddenPage.vue") },
  { path: "/:rest(.*)*", name: "not-found", component: () => import("@/pages/NotFoundPage.vue") },
];

export const router = createRouter({ history: createWebHistory("/"), routes });

router.beforeEach(async (to) => {
  if (!session.loaded) {
    try {
      await loadSession();
    } catch {
      // server down: treated as signed out; the login page says why when it fails
    }
  }
  if (to.meta.public) return true;
  if (session.me === null) return { name: "login", query: { next: to.fullPath } };
  for (const record of to.matched) {
    const allowed = record.meta.allowed;
    if (allowed !== undefined && !allowed()) return { name: "forbidden", query: { from: to.fullPath } };
  }
  return true;
});

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · Retail Vision` : "Retail Vision";
});
