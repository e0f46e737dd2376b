import { createApp } from "vue";
import VueKonva from "vue-konva";
import App from "@/App.vue";
import { router } from "@/router";
import { installDebugHook } from "@/utils/debug";
import "@/styles.css";

installDebugHook();
createApp(App).use(router).use(VueKonva).mount("#app");
