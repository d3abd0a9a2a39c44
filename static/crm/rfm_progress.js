// An RFM run that is still running: poll its API entry every two seconds, move the progress bar,
// and reload the page once the run is done or failed (the page then shows its tiers or error).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
    const bar = document.querySelector(".crm-rfm-progress[data-status-url]");
    if (!bar) return;
    const poll = async () => {
        const response = await fetch(bar.dataset.statusUrl, { headers: { Accept: "application/json" } });
        if (response.ok) {
            const run = (await response.json()).data;
            bar.value = run.progress;
            if (run.status === "done" || run.status === "failed") {
                window.location.reload();
                return;
            }
        }
        window.setTimeout(poll, 2000);
    };
    window.setTimeout(poll, 2000);
});
