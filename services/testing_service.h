#pragma once

// ycr.v1.Testing: moves a testing server's clock. Registered only when the
// server runs with a testing clock (ycr-server --testing_time_control).

#include "common/clock.h"
#include "ycr/v1/testing_service.grpc.pb.h"

namespace ycr::services {

class TestingService final : public v1::Testing::CallbackService {
 public:
  // `clock` must outlive the service.
  explicit TestingService(ManualClock* clock) : clock_(clock) {}

  grpc::ServerUnaryReactor* AdvanceTime(grpc::CallbackServerContext* context,
                                        const v1::AdvanceTimeRequest* request,
                                        v1::TimeResponse* response) override;
  grpc::ServerUnaryReactor* GetTime(grpc::CallbackServerContext* context,
                                    const v1::GetTimeRequest* request,
                                    v1::TimeResponse* response) override;

 private:
  ManualClock* const clock_;
};

}  // namespace ycr::services
