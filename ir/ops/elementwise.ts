/** Op definitions: elementwise (to be written). */
export {};
