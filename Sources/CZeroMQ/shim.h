#include <zmq.h>
#include <sys/eventfd.h>
#include <unistd.h>
/* Draft option in 4.3.4's header; the library accepts it when built with drafts. */
#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif
