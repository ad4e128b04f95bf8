/** A small element builder: the app is a few screens of plain DOM. */
type Child = Node | string | undefined | false
type Props = Record<string, string | boolean | EventListener>

export const h = (tag: string, props: Props = {}, ...children: Child[]): HTMLElement => {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) {
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value)
    else if (typeof value === 'boolean') el.toggleAttribute(name, value)
    else el.setAttribute(name, value)
  }
  for (const child of children) if (child !== undefined && child !== false) el.append(child)
  return el
}

/** A labelled field: the label is its accessible name. */
export const field = (label: string, input: HTMLElement): HTMLElement => h('label', {}, label, input)

/** A message a person must read (role=alert is announced at once). */
export const alertText = (text: string): HTMLElement => h('p', { role: 'alert' }, text)

export const errorText = (err: unknown): string => err instanceof Error ? err.message : String(err)
