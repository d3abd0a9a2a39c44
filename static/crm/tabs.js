// Tabs on the customer page: show one panel at a time; open the one named in the URL hash, or
// the first that holds a form error. Without this script every panel shows.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
    for (const container of document.querySelectorAll("[data-crm-tabs]")) {
        const tabs = Array.from(container.querySelectorAll("[role=tab]"));
        const panels = Array.from(container.querySelectorAll("[role=tabpanel]"));
        const show = (name) => {
            for (const tab of tabs) {
                const selected = tab.dataset.tab === name;
                tab.setAttribute("aria-selected", selected ? "true" : "false");
                tab.tabIndex = selected ? 0 : -1;
            }
            for (const panel of panels) {
                panel.hidden = panel.dataset.panel !== name;
            }
        };
        for (const panel of panels) {
            if (panel.querySelector(".errorlist, .errors")) {
                const tab = tabs.find((t) => t.dataset.tab === panel.dataset.panel);
                if (tab) tab.classList.add("crm-has-errors");
            }
        }
        const fromHash = window.location.hash.replace("#tab-", "");
        const withError = panels.find((p) => p.querySelector(".errorlist, .errors"));
        const names = tabs.map((t) => t.dataset.tab);
        const first = withError ? withError.dataset.panel : names.includes(fromHash) ? fromHash : names[0];
        for (const tab of tabs) {
            tab.addEventListener("click", () => {
                show(tab.dataset.tab);
                history.replaceState(null, "", "#tab-" + tab.dataset.tab);
            });
            tab.addEventListener("keydown", (event) => {
                const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
                if (!step) return;
                const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
                next.focus();
                next.click();
            });
        }
        container.classList.add("crm-tabs-ready");
        show(first);
    }
});
