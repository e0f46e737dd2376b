import { ref, watch, type Ref } from "vue";

/** Load an image for Konva; null until loaded (or when the URL is empty or fails). */
export function useImage(url: Ref<string | null | undefined>): Ref<HTMLImageElement | null> {
  const image = ref<HTMLImageElement | null>(null) as Ref<HTMLImageElement | null>;
  watch(
    url,
    (value) => {
      image.value = null;
      if (!value) return;
      const img = new window.Image();
      img.onload = () => {
        if (url.value === value) image.value = img;
      };
      img.src = value;
    },
    { immediate: true },
  );
  return image;
}
