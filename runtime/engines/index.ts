export { startNatsServer, type NatsServerHandle, type NatsServerOptions } from './nats-server.js';
export { socketUrl, startPostgres, startStandby, type StandbyHandle, type PostgresHandle, type PostgresOptions } from './postgres.js';
export { freePort, isPortOpen, findBinary } from './process.js';
export { startNatsCluster, type NatsClusterHandle, type NatsClusterOptions } from './nats-cluster.js';
