import { onBeforeUnmount, onMounted, ref, type Ref } from "vue";

/** The content width of an element, kept current with a ResizeObserver. */
export function useElementWidth(element: Ref<HTMLElement | null>, fallback = 800): Ref<number> {
  const width = ref(fallback);
  let observer: ResizeObserver | null = null;
  onMounted(() => {
    if (element.value === null) return;
    width.value = element.value.clientWidth || fallback;
    observer = new ResizeObserver((entries) => {
      const w = entries[0]?.contentRect.width;
      if (w && Math.abs(w - width.value) >= 1) width.value = Math.floor(w);
    });
    observer.observe(element.value);
  });
  onBeforeUnmount(() => observer?.disconnect());
  return width;
}
