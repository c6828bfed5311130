/**
 * Colour tokens: every colour in the dashboard is named here by what it means,
 * never by hue at the call site. NO_COLOR (https://no-color.org) turns them all off.
 */
export interface Theme {
  accent: string | undefined;
  good: string | undefined;
  warn: string | undefined;
  danger: string | undefined;
  muted: string | undefined;
  bar: string | undefined;
  selected: string | undefined;
  /** Bold and dim are emphasis, also off with NO_COLOR (they are escape codes too). */
  emphasis: boolean;
}

const COLOURS: Theme = { accent: 'cyan', good: 'green', warn: 'yellow', danger: 'red', muted: 'gray', bar: 'blue', selected: 'magenta', emphasis: true };
const PLAIN: Theme = { accent: undefined, good: undefined, warn: undefined, danger: undefined, muted: undefined, bar: undefined, selected: undefined, emphasis: false };

export function themeFor(env: NodeJS.ProcessEnv): Theme {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== '' ? PLAIN : COLOURS;
}
