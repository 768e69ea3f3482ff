// The player: hls.js (from npm, vendored at setup, served by this origin) into a <video>.
import Hls from "/vendor/hls.mjs";

let hls = null;
export const errors = []; // every hls.js error of this page, for the status line and the tests

export function play(video, playlist, onFatal) {
  stop(video);
  if (!Hls.isSupported()) {
    onFatal("This browser cannot play HLS through Media Source Extensions.");
    return;
  }
  hls = new Hls({ enableWorker: false }); // no blob: worker, so the CSP stays strict
  hls.on(Hls.Events.ERROR, (_event, data) => {
    errors.push({ type: data.type, details: data.details, fatal: data.fatal });
    if (data.fatal) {
      stop(video);
      onFatal(`Playback stopped (${data.details}).`);
    }
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => {
    video.play().catch(() => {}); // the user pressed play; a refusal leaves the controls
  });
  hls.loadSource(playlist);
  hls.attachMedia(video);
}

export function stop(video) {
  if (hls !== null) {
    hls.destroy();
    hls = null;
  }
  video.removeAttribute("src");
  video.load();
}
