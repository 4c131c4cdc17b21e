/** Option parser for a repeatable option (`--party A --party B`): every value, in order. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];
