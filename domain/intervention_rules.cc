#include "domain/intervention_rules.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "domain/field_checks.h"
#include "domain/refusals.h"
#include "domain/sharing_rules.h"

namespace ycr::domain {
namespace {

using State = InterventionView::State;

absl::Status ValidatePlan(const v1::InterventionPlanned& p,
                          const v1::PersonalData& personal) {
  if (absl::Status s = ValidId(p.intervention_id(), "plan.intervention_id");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidId(p.school(), "plan.school"); !s.ok()) return s;
  if (p.type() == v1::INTERVENTION_TYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError("plan.type: is required");
  }
  if (IsForOneYoungCarer(p.type())) {
    if (absl::Status s = ValidId(p.subject_id(), "plan.subject_id"); !s.ok()) {
      return absl::Status(
          s.code(),
          absl::StrCat(s.message(), " (support for one young carer)"));
    }
  } else if (!p.subject_id().empty()) {
    return absl::InvalidArgumentError(
        "plan.subject_id: whole-school work (assembly or PSE lesson, staff "
        "training) names no young carer");
  }
  if (!p.referral_id().empty()) {
    if (absl::Status s = ValidId(p.referral_id(), "plan.referral_id");
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s =
          RequiredTime(p.has_starts_at(), p.starts_at(), "plan.starts_at");
      !s.ok()) {
    return s;
  }
  if (p.has_ends_at()) {
    if (absl::Status s = RequiredTime(true, p.ends_at(), "plan.ends_at");
        !s.ok()) {
      return s;
    }
    if (FromProtoTime(p.ends_at()) <= FromProtoTime(p.starts_at())) {
      return absl::InvalidArgumentError(
          "plan.ends_at: must be after starts_at");
    }
  }
  // What support for one young carer is for is free text about the child:
  // it travels in the personal part. Whole-school work is described by its
  // type and carries none.
  if (IsForOneYoungCarer(p.type())) {
    if (absl::Status s = RequiredTextFor(personal.notes(), "personal.notes",
                                         "what the intervention is for");
        !s.ok()) {
      return s;
    }
  }
  return OptionalText(p.worker(), "plan.worker");
}

bool Measured(v1::OutcomeChange change) {
  return change != v1::OUTCOME_CHANGE_UNSPECIFIED &&
         change != v1::OUTCOME_CHANGE_NOT_MEASURED;
}

std::string StateName(State state) {
  switch (state) {
    case State::kNone:
      return "not planned";
    case State::kPlanned:
      return "planned";
    case State::kEnded:
      return "ended";
  }
  return "unknown";
}

}  // namespace

bool IsForOneYoungCarer(v1::InterventionType type) {
  return type != v1::INTERVENTION_TYPE_ASSEMBLY_OR_PSE_LESSON &&
         type != v1::INTERVENTION_TYPE_STAFF_TRAINING &&
         type != v1::INTERVENTION_TYPE_UNSPECIFIED;
}

absl::Status DecideInterventionCommand(const InterventionView& view,
                                       const v1::Actor& caller, absl::Time now,
                                       v1::EventPayload* event) {
  const std::string& own = caller.organisation();
  if (event->has_intervention_planned()) {
    auto* p = event->mutable_intervention_planned();
    if (p->service().empty()) p->set_service(own);
    if (absl::Status s = ValidatePlan(*p, event->personal()); !s.ok()) return s;
    if (absl::Status s = ActsFor(own, p->service(), "the delivering service",
                                 "plan its interventions");
        !s.ok()) {
      return s;
    }
    if (p->service() == p->school()) {
      return absl::InvalidArgumentError(
          "plan.service: a young carers' service delivers interventions; it "
          "cannot be the school itself");
    }
    if (view.state != State::kNone) {
      // Its state is for its service only: ids are one namespace, and
      // another organisation must learn no more than that it is taken.
      const std::string state =
          own == view.plan.service()
              ? absl::StrCat(" (", StateName(view.state), ")")
              : "";
      return InvalidState(
          "INTERVENTION", Cited("intervention_id", p->intervention_id()),
          absl::StrCat("intervention rule: intervention ", p->intervention_id(),
                       " already exists", state));
    }
    return absl::OkStatus();
  }
  if (view.state == State::kNone) return NotFound("intervention");
  if (absl::Status s = ActsFor(own, view.plan.service(),
                               "the delivering service", "record it");
      !s.ok()) {
    return s;
  }
  switch (event->kind_case()) {
    case v1::EventPayload::kSessionDelivered: {
      const auto& e = event->session_delivered();
      if (absl::Status s = RequiredTime(e.has_delivered_at(), e.delivered_at(),
                                        "record_session.delivered_at");
          !s.ok()) {
        return s;
      }
      const absl::Time at = FromProtoTime(e.delivered_at());
      if (at > now || at < FromProtoTime(view.plan.starts_at())) {
        return absl::InvalidArgumentError(
            "record_session.delivered_at: between the planned start and now");
      }
      if (e.duration_minutes() < 1 || e.duration_minutes() > 24 * 60) {
        return absl::InvalidArgumentError(
            "record_session.duration_minutes: 1 to 1440");
      }
      if (view.state != State::kPlanned) {
        return InvalidState(
            "INTERVENTION",
            Cited("intervention_id", view.plan.intervention_id()),
            absl::StrCat(
                "intervention rule: cannot record a session of an intervention "
                "that is ",
                StateName(view.state)));
      }
      return absl::OkStatus();
    }
    case v1::EventPayload::kInterventionEnded:
      // For one young carer, why it ended is about the child: in the
      // personal part. Whole-school work ends without a reason.
      if (!view.plan.subject_id().empty()) {
        if (absl::Status s =
                RequiredText(event->personal().reason(), "personal.reason");
            !s.ok()) {
          return s;
        }
      }
      if (view.state != State::kPlanned) {
        return InvalidState(
            "INTERVENTION",
            Cited("intervention_id", view.plan.intervention_id()),
            absl::StrCat(
                "intervention rule: cannot end an intervention that is ",
                StateName(view.state)));
      }
      return absl::OkStatus();
    case v1::EventPayload::kOutcomesRecorded: {
      const auto& e = event->outcomes_recorded();
      if (!Measured(e.attendance()) && !Measured(e.attainment()) &&
          !Measured(e.wellbeing())) {
        return absl::InvalidArgumentError(
            "record_outcomes: measure at least one of attendance, attainment "
            "and wellbeing");
      }
      if (!e.has_report()) return absl::OkStatus();
      if (view.plan.subject_id().empty()) {
        return absl::InvalidArgumentError(
            "record_outcomes.report: whole-school work has no young carer's "
            "outcomes to report");
      }
      if (absl::Status s = ValidateEmbeddedDisclosure(
              e.report(), event->personal(), caller, "record_outcomes.report",
              view.plan.subject_id(), view.plan.school(),
              v1::PURPOSE_IMPACT_REPORTING);
          !s.ok()) {
        return s;
      }
      const auto& cats = e.report().categories();
      for (auto [change, category, name] :
           {std::tuple{e.attendance(), v1::DATA_CATEGORY_ATTENDANCE,
                       "attendance"},
            std::tuple{e.attainment(), v1::DATA_CATEGORY_ATTAINMENT,
                       "attainment"},
            std::tuple{e.wellbeing(), v1::DATA_CATEGORY_WELLBEING,
                       "wellbeing"}}) {
        if (Measured(change) &&
            std::count(cats.begin(), cats.end(), category) == 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              "record_outcomes.report.categories: the report discloses ", name,
              ", so it must list ", v1::DataCategory_Name(category)));
        }
      }
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(
          "command: is not an intervention command");
  }
}

absl::Status ApplyInterventionEvent(const v1::RecordedEvent& recorded,
                                    InterventionView* view) {
  const v1::EventPayload& event = recorded.payload();
  switch (event.kind_case()) {
    case v1::EventPayload::kInterventionPlanned:
      view->state = State::kPlanned;
      view->plan = event.intervention_planned();
      break;
    case v1::EventPayload::kSessionDelivered: {
      const auto& e = event.session_delivered();
      ++view->sessions_delivered;
      if (e.attended()) ++view->sessions_attended;
      const absl::Time at = FromProtoTime(e.delivered_at());
      if (!view->last_session_at.has_value() || at > *view->last_session_at) {
        view->last_session_at = at;
      }
      break;
    }
    case v1::EventPayload::kInterventionEnded:
      view->state = State::kEnded;
      break;
    case v1::EventPayload::kOutcomesRecorded:
      view->latest_outcomes = event.outcomes_recorded();
      break;
    default:
      return absl::InvalidArgumentError(
          "payload: is not an intervention event");
  }
  view->version = recorded.stream_version();
  return absl::OkStatus();
}

}  // namespace ycr::domain
