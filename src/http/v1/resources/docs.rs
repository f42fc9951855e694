//! The OpenAPI operations of each resource kind, built from its spec, so that a kind's
//! routes and their documentation cannot drift apart.

use axum::routing::MethodRouter;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, Paths, PathsBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder, Schema};
use utoipa::ToSchema;
use utoipa_axum::router::UtoipaMethodRouter;

use crate::domain::ids::TypedId;
use crate::domain::resource::ResourceSpec;
use crate::http::AppState;

/// Bytes, as OpenAPI 3.1 describes them.
pub(super) fn binary() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/octet-stream")
}

pub(super) fn path_param(name: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

/// The OpenAPI operations of one kind.
pub(super) struct Docs<S> {
    fields: String,
    read: String,
    tag: &'static str,
    _kind: std::marker::PhantomData<S>,
}

impl<S: ResourceSpec + ToSchema> Docs<S> {
    pub(super) fn new() -> Self {
        let fields = <S as ToSchema>::name().into_owned();
        let read = fields.trim_end_matches("Fields").to_owned();
        Docs {
            fields,
            read,
            tag: S::KIND.info().path,
            _kind: std::marker::PhantomData,
        }
    }

    /// The schemas the kind's operations refer to.
    fn schemas(&self) -> Vec<(String, RefOr<Schema>)> {
        let mut schemas = vec![(self.fields.clone(), S::schema())];
        S::schemas(&mut schemas);
        let envelope = ObjectBuilder::new()
            .property("id", ObjectBuilder::new().schema_type(Type::String))
            .required("id")
            .property("tenantId", ObjectBuilder::new().schema_type(Type::String))
            .required("tenantId")
            .property("version", ObjectBuilder::new().schema_type(Type::Integer))
            .required("version")
            .property(
                "createdAt",
                ObjectBuilder::new().schema_type(Type::String).format(Some(
                    utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::DateTime,
                    ),
                )),
            )
            .required("createdAt")
            .property(
                "updatedAt",
                ObjectBuilder::new().schema_type(Type::String).format(Some(
                    utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::DateTime,
                    ),
                )),
            )
            .required("updatedAt");
        let read = AllOfBuilder::new()
            .item(Ref::from_schema_name(&self.fields))
            .item(envelope)
            .build();
        schemas.push((self.read.clone(), RefOr::T(Schema::AllOf(read))));
        let page = ObjectBuilder::new()
            .property(
                "data",
                utoipa::openapi::schema::ArrayBuilder::new()
                    .items(Ref::from_schema_name(&self.read)),
            )
            .required("data")
            .property("nextCursor", ObjectBuilder::new().schema_type(Type::String));
        schemas.push((
            format!("{}Page", self.read),
            RefOr::T(Schema::Object(page.build())),
        ));
        schemas
    }

    fn json(schema: &str) -> utoipa::openapi::Content {
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(schema)))
            .build()
    }

    fn operation(&self, id: String, summary: String, item: bool) -> OperationBuilder {
        let mut params = vec![path_param("tenantId")];
        if item {
            params.push(path_param(S::Id::PATH_PARAMS[0]));
        }
        OperationBuilder::new()
            .tags(Some([self.tag]))
            .operation_id(Some(id))
            .summary(Some(summary))
            .parameters(Some(params))
    }

    pub(super) fn list(&self) -> (HttpMethod, utoipa::openapi::path::Operation) {
        let info = S::KIND.info();
        let mut filters = vec![
            query_param("limit", "1 to 100, default 20"),
            query_param("cursor", "`nextCursor` of the page before"),
            query_param("agentId", "only those that name this agent"),
        ];
        if let Some(field) = info.category_field {
            filters.push(query_param(field, "only those with this value"));
        }
        let mut operation = self
            .operation(
                format!("list{}s", self.read),
                format!("List a tenant's {}s.", info.noun),
                false,
            )
            .response(
                "200",
                ResponseBuilder::new()
                    .description("A page")
                    .content(
                        "application/json",
                        Self::json(&format!("{}Page", self.read)),
                    )
                    .build(),
            )
            .build();
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .extend(filters);
        (HttpMethod::Get, operation)
    }

    pub(super) fn create(&self) -> (HttpMethod, utoipa::openapi::path::Operation) {
        let info = S::KIND.info();
        let mut summary = format!("Create a {}.", info.noun);
        if let Some(limit) = info.count_limit {
            summary.push_str(&format!(
                " Refused with 403 `{}` once the tenant has `{}`.",
                limit.code,
                limit.key.field()
            ));
        }
        let operation = self
            .operation(format!("create{}", self.read), summary, false)
            .request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", Self::json(&self.fields))
                    .required(Some(Required::True))
                    .build(),
            ))
            .response("201", self.one("Created"))
            .build();
        (HttpMethod::Post, operation)
    }

    pub(super) fn upload(&self) -> (HttpMethod, utoipa::openapi::path::Operation) {
        let summary = "Upload a file: the raw body with `?name=`, or a multipart form with a `file` part (and an optional `name` part). Refused with 403 `file_too_large` over `maxFileSizeMb`, `storage_limit_reached` over `maxFilesGb`.".to_owned();
        let form = ObjectBuilder::new()
            .property("file", binary())
            .required("file")
            .property("name", ObjectBuilder::new().schema_type(Type::String));
        let body = RequestBodyBuilder::new()
            .content(
                "multipart/form-data",
                ContentBuilder::new().schema(Some(form)).build(),
            )
            .content(
                "application/octet-stream",
                ContentBuilder::new().schema(Some(binary())).build(),
            )
            .required(Some(Required::True))
            .build();
        let mut operation = self
            .operation(format!("upload{}", self.read), summary, false)
            .request_body(Some(body))
            .response("201", self.one("Stored"))
            .build();
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(query_param("name", "the file's name, for a raw body"));
        (HttpMethod::Post, operation)
    }

    fn one(&self, description: &str) -> utoipa::openapi::Response {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", Self::json(&self.read))
            .build()
    }

    pub(super) fn get(&self) -> (HttpMethod, utoipa::openapi::path::Operation) {
        let summary = format!("Get a {}.", S::KIND.info().noun);
        let operation = self
            .operation(format!("get{}", self.read), summary, true)
            .response("200", self.one("Found"))
            .build();
        (HttpMethod::Get, operation)
    }

    pub(super) fn update(&self) -> (HttpMethod, utoipa::openapi::path::Operation) {
        let summary = format!(
            "Change a {} by a JSON merge patch (RFC 7386) of its fields; send `If-Match` to change only the version you read.",
            S::KIND.info().noun
        );
        let operation = self
            .operation(format!("update{}", self.read), summary, true)
            .request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", Self::json(&self.fields))
                    .required(Some(Required::True))
                    .build(),
            ))
            .response("200", self.one("Changed"))
            .build();
        (HttpMethod::Patch, operation)
    }

    pub(super) fn delete(&self) -> (HttpMethod, utoipa::openapi::path::Operation) {
        let summary = format!("Delete a {}.", S::KIND.info().noun);
        let operation = self
            .operation(format!("delete{}", self.read), summary, true)
            .response("204", ResponseBuilder::new().description("Deleted").build())
            .build();
        (HttpMethod::Delete, operation)
    }

    pub(super) fn routed(
        &self,
        path: String,
        operations: Vec<(HttpMethod, utoipa::openapi::path::Operation)>,
        method_router: MethodRouter<AppState>,
    ) -> UtoipaMethodRouter<AppState> {
        let mut item: Option<PathItem> = None;
        for (method, operation) in operations {
            let next = PathItem::new(method, operation);
            match &mut item {
                Some(item) => item.merge_operations(next),
                None => item = Some(next),
            }
        }
        let mut paths: Paths = PathsBuilder::new().build();
        if let Some(item) = item {
            paths.paths.insert(path, item);
        }
        (self.schemas(), paths, method_router)
    }
}

fn query_param(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}
