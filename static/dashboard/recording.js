// The call page's recording player (plain ES module, no build step). Each transcript
// line's time seeks the player to that moment. The player's source is the dashboard's
// /recording/ address, which redirects to a link that expires after a few minutes: when
// the link has expired the player fails, so it asks again and goes on where it was.

const player = document.getElementById("recording-player");

if (player) {
  const source = player.getAttribute("src");
  let retried = 0;

  function seek(seconds) {
    player.currentTime = seconds;
    player.play().catch(() => {});
  }

  document.querySelectorAll("[data-seek]").forEach((button) => {
    button.addEventListener("click", () => seek(Number(button.dataset.seek) / 1000));
  });

  player.addEventListener("error", () => {
    if (retried++ > 2) return;  // not an expired link: leave the browser's error showing
    const at = player.currentTime;
    player.src = `${source}?again=${Date.now()}`;
    player.addEventListener("loadedmetadata", () => { player.currentTime = at; }, { once: true });
  });
  player.addEventListener("playing", () => { retried = 0; });
}
