/**
 * The chat page's frame (/apps/chat-panels.js): the message list that
 * scrolls inside the window and follows new messages while the reader is at
 * the bottom (else a "new messages ↓" notice), and the rooms and people
 * panels, which are drawers on a narrow screen.
 */
import { byId } from './common.js';

/** A list scrolled to within this many pixels of its end counts as at the bottom (it follows new messages). */
const BOTTOM_SLACK = 48;

/** Whether a list is scrolled to (near) its end. */
export function isAtBottom(list: HTMLElement): boolean {
  return list.scrollHeight - list.scrollTop - list.clientHeight <= BOTTOM_SLACK;
}

/** Scrolls the conversation to its last line and drops the "new messages" notice. */
export function scrollToEnd(): void {
  const list = byId('messages');
  list.scrollTop = list.scrollHeight;
  showNewMessages(false);
}

/** The "new messages ↓" notice over the list, for a reader who scrolled up when a message came in. */
export function showNewMessages(shown: boolean): void {
  byId('new-messages').hidden = !shown;
}

/** Appends a line (a system line, an error) at the end of the conversation, following it when the reader is at the bottom. */
export function appendLine(item: HTMLLIElement): void {
  const list = byId('messages');
  const follow = isAtBottom(list);
  list.append(item);
  if (follow) scrollToEnd();
  else showNewMessages(true);
}

export function wireScrolling(): void {
  const list = byId('messages');
  list.addEventListener('scroll', () => {
    if (isAtBottom(list)) showNewMessages(false);
  });
  byId('new-messages').addEventListener('click', scrollToEnd);
}

/** The rooms and people panels: columns on a wide screen, drawers the header's buttons open on a narrow one. */
const DRAWERS = [
  { panel: 'rooms-panel', toggle: 'rooms-toggle', close: 'rooms-close' },
  { panel: 'people-panel', toggle: 'people-toggle', close: 'people-close' },
] as const;

function openDrawer(panel: string): void {
  closeDrawers();
  byId(panel).classList.add('open');
  byId('drawer-backdrop').hidden = false;
  for (const drawer of DRAWERS) if (drawer.panel === panel) byId(drawer.toggle).setAttribute('aria-expanded', 'true');
  byId(panel).querySelector<HTMLElement>('a.active, button.drawer-close')?.focus();
}

export function closeDrawers(): void {
  for (const drawer of DRAWERS) {
    byId(drawer.panel).classList.remove('open');
    byId(drawer.toggle).setAttribute('aria-expanded', 'false');
  }
  byId('drawer-backdrop').hidden = true;
}

export function wireDrawers(): void {
  for (const drawer of DRAWERS) {
    byId(drawer.toggle).addEventListener('click', () => (byId(drawer.panel).classList.contains('open') ? closeDrawers() : openDrawer(drawer.panel)));
    byId(drawer.close).addEventListener('click', closeDrawers);
  }
  byId('drawer-backdrop').addEventListener('click', closeDrawers);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeDrawers();
  });
}
