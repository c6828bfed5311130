/** The one hook the dashboard reads the model through (React's external-store subscription). */
import { useSyncExternalStore } from 'react';
import type { DashboardStore, StoreSnapshot } from './store.js';

export function useDashboard(store: DashboardStore): StoreSnapshot {
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
