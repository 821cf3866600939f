/** Op definitions: control (to be written). */
export {};
