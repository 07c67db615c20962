/* Theme: follows the system's prefers-color-scheme unless the visitor picks one.
 *
 * Sets data-theme="light" or "dark" (the theme in effect) and data-theme-choice
 * ("system", "light" or "dark") on <html>; the button #theme-toggle cycles
 * system → light → dark and says the choice in words. The choice is kept in
 * localStorage. Without JavaScript the stylesheet's prefers-color-scheme rules apply.
 * Load it in <head> (without defer) so the page never flashes the other theme.
 */
(function () {
  "use strict";

  const KEY = "smki-theme";
  const CHOICES = ["system", "light", "dark"];
  const html = document.documentElement;
  const dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function stored() {
    try {
      const value = localStorage.getItem(KEY);
      return CHOICES.includes(value) ? value : "system";
    } catch (e) {
      return "system"; // storage disabled: follow the system
    }
  }

  function apply(choice) {
    const effective = choice === "system" ? (dark && dark.matches ? "dark" : "light") : choice;
    html.setAttribute("data-theme", effective);
    html.setAttribute("data-theme-choice", choice);
    const button = document.getElementById("theme-toggle");
    if (button) {
      button.textContent = "Theme: " + choice + (choice === "system" ? " (" + effective + ")" : "");
      button.setAttribute("aria-label", "Colour theme: " + choice + ". Change theme");
    }
  }

  function choose(choice) {
    try {
      if (choice === "system") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, choice);
    } catch (e) {
      // storage disabled: the choice lasts for this page only
    }
    apply(choice);
  }

  function bind() {
    const button = document.getElementById("theme-toggle");
    if (button) {
      button.hidden = false;
      button.addEventListener("click", () => {
        const current = html.getAttribute("data-theme-choice") || stored();
        choose(CHOICES[(CHOICES.indexOf(current) + 1) % CHOICES.length]);
      });
    }
    apply(html.getAttribute("data-theme-choice") || stored());
  }

  apply(stored());
  if (dark) dark.addEventListener("change", () => apply(html.getAttribute("data-theme-choice") || stored()));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", bind);
  else bind();
})();
