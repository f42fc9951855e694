"""Drives tenantry's Trieve dialect through Trieve's published Python client.

Run by the `api` test suite (tests/api/trieve/python_client.rs) against a real server, with:
  TRIEVE_BASE_URL    where the server listens
  TRIEVE_API_KEY     an agency key, sent bare in `Authorization` as the client does
  TRIEVE_MEMBER_ORG  an organization (plain UUID) of that agency with one active owner

It creates, reads, updates and deletes an organization and reads its usage and users, and
asserts every answer parses into the client's models with the values tenantry documents.
"""

import datetime
import os
import sys
import uuid

import trieve_py_client
from trieve_py_client import (
    ApiClient,
    ApiException,
    Configuration,
    CreateOrganizationReqPayload,
    Organization,
    OrganizationApi,
    OrganizationUsageCount,
    OrganizationWithSubAndPlan,
    SlimUser,
    StripePlan,
    UpdateOrganizationReqPayload,
)

# What a plan field says when the plan sets no limit (docs/TRIEVE.md).
UNLIMITED = 2**31 - 1


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def check_organization(organization, name):
    check(isinstance(organization, Organization), f"an Organization: {organization!r}")
    uuid.UUID(organization.id)
    check(organization.name == name, f"named {name}: {organization.name}")
    check(organization.deleted == 0, f"not deleted: {organization.deleted}")
    check(organization.registerable is True, "registerable")
    for stamp in (organization.created_at, organization.updated_at):
        check(isinstance(stamp, datetime.datetime), f"a time: {stamp!r}")


def main():
    configuration = Configuration(
        host=os.environ["TRIEVE_BASE_URL"],
        api_key={"ApiKey": os.environ["TRIEVE_API_KEY"]},
    )
    member_org = os.environ["TRIEVE_MEMBER_ORG"]
    with ApiClient(configuration) as client:
        api = OrganizationApi(client)

        created = api.create_organization(CreateOrganizationReqPayload(name="Roundtrip Inc"))
        check_organization(created, "Roundtrip Inc")
        org = created.id

        read = api.get_organization(org, org)
        check(isinstance(read, OrganizationWithSubAndPlan), f"{read!r}")
        check_organization(read.organization, "Roundtrip Inc")
        check(read.organization.id == org, "the same organization")
        plan = read.plan
        check(isinstance(plan, StripePlan), f"a plan: {plan!r}")
        check(plan.name == "Free", f"the free plan: {plan.name}")
        check(plan.stripe_id == "", f"no billing id: {plan.stripe_id!r}")
        check(plan.amount == 0, f"free: {plan.amount}")
        check(plan.dataset_count == 10, f"maxAgents: {plan.dataset_count}")
        check(plan.message_count == 1000, f"monthlyCallLimit: {plan.message_count}")
        check(plan.chunk_count == 5000, f"maxMinutesPerMonth: {plan.chunk_count}")
        check(plan.user_count == UNLIMITED, f"no member limit: {plan.user_count}")
        check(plan.visible is True, "visible")
        check(read.subscription is None, f"no subscription: {read.subscription!r}")

        updated = api.update_organization(org, UpdateOrganizationReqPayload(name="Renamed Inc"))
        check_organization(updated, "Renamed Inc")
        check(updated.updated_at >= created.updated_at, "updated later")
        check(api.get_organization(org, org).organization.name == "Renamed Inc", "renamed")

        usage = api.get_organization_usage(org, org)
        check(isinstance(usage, OrganizationUsageCount), f"{usage!r}")
        check(usage.org_id == org and usage.id == org, f"its own usage: {usage!r}")
        for count in ("dataset_count", "user_count", "file_storage", "message_count", "chunk_count"):
            check(getattr(usage, count) == 0, f"no {count} yet: {usage!r}")

        check(api.get_organization_users(org, org) == [], "no members in a new organization")
        members = api.get_organization_users(member_org, member_org)
        check(len(members) == 1, f"one member: {members!r}")
        owner = members[0]
        check(isinstance(owner, SlimUser), f"{owner!r}")
        check(owner.email == "owner@roundtrip.example", f"the owner: {owner.email}")
        check(owner.name == "Jo Owner", f"named: {owner.name!r}")
        check(len(owner.user_orgs) == 1 and owner.user_orgs[0].role == 2, "an owner, role 2")
        check(owner.user_orgs[0].organization_id == member_org, "of that organization")
        check(owner.user_orgs[0].user_id == owner.id, "the membership is the user's")
        check([o.id for o in owner.orgs] == [member_org], "that organization only")

        check(api.delete_organization(org, org) is None, "deleted, with no body")
        try:
            api.get_organization(org, org)
        except ApiException as refused:
            check(refused.status == 404, f"gone: {refused.status}")
            check("Organization not found" in refused.body, refused.body)
        else:
            raise AssertionError("a deleted organization is not found")

    print(f"trieve-py-client {trieve_py_client.__version__}: organization roundtrip passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as failure:  # the test prints what failed and how
        print(f"FAILED: {failure!r}", file=sys.stderr)
        raise
