import { useEffect, useRef } from "react";

/**
 * Moves the focus once React has rendered what an action changed, so that it never falls to the
 * page's body when the control that had it goes away or is disabled. An element that is not
 * focusable by itself (a heading, a card) is made focusable by script only (tabindex -1).
 */
export function focusLater(target: () => HTMLElement | null | undefined, tries = 5): void {
  requestAnimationFrame(() => {
    const el = target();
    // Not rendered yet (an update after an await may commit a frame later): look again.
    if (!el?.isConnected) {
      if (tries > 1) focusLater(target, tries - 1);
      return;
    }
    if (!el.hasAttribute("tabindex") && el.tabIndex < 0) el.setAttribute("tabindex", "-1");
    el.focus();
  });
}

/** The transcript card (article) an element is in. */
export function cardOf(el: Element | null | undefined): HTMLElement | null {
  return (el?.closest("article") as HTMLElement | null) ?? null;
}

/** Focuses the element when it first appears (a new screen's heading, an opened form's first field). */
export function useFocusOnMount<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  useEffect(() => focusLater(() => ref.current), []);
  return ref;
}
