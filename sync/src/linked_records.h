// Rules of a customer's linked records (kRecordCode: bookings, work orders, invoices, products)
// checked where a record is written; the registers and their replication are every element's.
#pragma once

#include "protocol/status.h"
#include "sync/operations.h"

namespace sitesync::sync {

// One attribute a user sets on a record (`existing`: the record, null when it is being added):
// the kind is one of kRecordKinds and stays what it was made; a debtor is a customer id.
Status checkRecordAttribute(const CardElement* existing, const Edit& edit);

}  // namespace sitesync::sync
