// test/brokers/kafka.js still lives here (it moves into @lightbus/testing with the
// real Kafka broker); it shares the reachability check of @lightbus/testing's helpers.
module.exports = require('../../packages/testing/src/brokers');
