// @deploybus/deploy-agent: public face.
export {};
