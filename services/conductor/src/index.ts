// @deploybus/conductor: public face.
export {};
