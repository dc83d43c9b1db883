/** A mistake in what the user typed or chose, found before anything is sent: shown as it is. */
export class InputError extends Error {}
