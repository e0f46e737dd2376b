// The siren's sound: a two-tone WebAudio oscillator, playing while the site's siren is on and sound is enabled.
import { reactive } from "vue";

const SOUND_KEY = "retail.sound";

interface SirenState {
  active: boolean;
  soundEnabled: boolean;
  playing: boolean;
  blocked: boolean;
}

class SirenSound {
  readonly state = reactive<SirenState>({
    active: false,
    soundEnabled: localStorage.getItem(SOUND_KEY) !== "off",
    playing: false,
    blocked: false,
  });

  private context: AudioContext | null = null;
  private oscillator: OscillatorNode | null = null;
  private gain: GainNode | null = null;
  private toggleTimer: number | undefined;

  setActive(on: boolean): void {
    this.state.active = on;
    this.update();
  }

  setSoundEnabled(enabled: boolean): void {
    this.state.soundEnabled = enabled;
    localStorage.setItem(SOUND_KEY, enabled ? "on" : "off");
    this.update();
  }

  private update(): void {
    if (this.state.active && this.state.soundEnabled) this.start();
    else this.stop();
  }

  private start(): void {
    if (this.oscillator !== null) return;
    try {
      this.context = this.context ?? new AudioContext();
    } catch {
      this.state.blocked = true;
      return;
    }
    const ctx = this.context;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "square";
    osc.frequency.value = 740;
    gain.gain.value = 0.06;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    this.oscillator = osc;
    this.gain = gain;
    let high = false;
    this.toggleTimer = window.setInterval(() => {
      high = !high;
      osc.frequency.setValueAtTime(high ? 960 : 740, ctx.currentTime);
    }, 400);
    void ctx.resume().then(
      () => {
        this.state.blocked = ctx.state !== "running";
        this.state.playing = ctx.state === "running";
      },
      () => {
        this.state.blocked = true;
      },
    );
    this.state.playing = ctx.state === "running";
    this.state.blocked = ctx.state !== "running";
  }

  private stop(): void {
    if (this.toggleTimer !== undefined) window.clearInterval(this.toggleTimer);
    this.toggleTimer = undefined;
    if (this.oscillator !== null) {
      try {
        this.oscillator.stop();
      } catch {
        // already stopped
      }
      this.oscillator.disconnect();
      this.gain?.disconnect();
    }
    this.oscillator = null;
    this.gain = null;
    this.state.playing = false;
    this.state.blocked = false;
  }

  /** Called from a click: browsers only start audio after a user gesture. */
  unlock(): void {
    void this.context?.resume().then(() => {
      this.state.blocked = this.context?.state !== "running";
      this.state.playing = this.oscillator !== null && this.context?.state === "running";
    });
  }
}

export const siren = new SirenSound();
