#ifndef JOURNEYD_CNATS_SHIM_H
#define JOURNEYD_CNATS_SHIM_H
// libnats (apt libnats-dev, 3.4): the NATS C client with JetStream — connections and credentials,
// streams (js_AddStream, js_GetStreamInfo, js_PurgeStream, js_EraseMsg), publishing with a PubAck
// (js_PublishMsg, js_PublishMsgAsync, js_PublishAsyncComplete) and pull consumers
// (js_PullSubscribe, natsSubscription_FetchRequest). Only JourneyNATS imports it.
#include <nats/nats.h>
#endif
