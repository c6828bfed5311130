// d3-flame-graph 5 ships no types: the part of its API the flame page uses.
declare module 'd3-flame-graph' {
  interface FlameGraph {
    (selection: unknown): void;
    width(w: number): FlameGraph;
    cellHeight(h: number): FlameGraph;
    minFrameSize(px: number): FlameGraph;
    transitionDuration(ms: number): FlameGraph;
    sort(s: boolean): FlameGraph;
    title(t: string): FlameGraph;
    inverted(i: boolean): FlameGraph;
    setColorMapper(f: (d: { data: { kind?: string; name: string }; highlight?: boolean }, original: string) => string): FlameGraph;
    setSearchHandler(f: (results: unknown[], sum: number, total: number) => void): FlameGraph;
    search(term: string): void;
    clear(): void;
    resetZoom(): void;
  }
  export default function flamegraph(): FlameGraph;
}
declare module '*.css';
