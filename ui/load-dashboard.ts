/**
 * Loads the terminal dashboard (ui/dashboard.tsx) with React's production build. React and its
 * reconciler (under Ink) each pick their development or production build from NODE_ENV when first
 * loaded; unset, that is the development one, which checks and records every render (owner
 * stacks, performance.measure entries, prop checks): in a CPU profile of `exitscope replay` at
 * 50 VMs it was most of the rendering time and much of the garbage. It must be set before any
 * module of the dashboard loads (its compiled JSX imports react/jsx-runtime before anything else),
 * hence here, around the dynamic import. An explicit NODE_ENV=development (someone working on the
 * views, who wants React's warnings) is kept.
 */
export async function loadDashboard(): Promise<typeof import('./dashboard.js')> {
  if (process.env.NODE_ENV !== 'development') process.env.NODE_ENV = 'production';
  return import('./dashboard.js');
}
