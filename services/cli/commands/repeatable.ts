/** Commander's argument parser for a repeatable option: each occurrence is added to the list. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
