"""The fraud-scoring server: loads the model from $MODEL_PATH and answers on $PORT.

Probes: /v2/health/ready once the model is loaded, /v2/health/live while the process runs.
"""

import os


def main() -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    state = {"model": None}

    @app.on_event("startup")
    def load_model() -> None:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(os.path.join(os.environ["MODEL_PATH"], "model.json"))
        state["model"] = booster

    @app.get("/v2/health/live")
    def live() -> dict:
        return {"live": True}

    @app.get("/v2/health/ready")
    def ready() -> dict:
        if state["model"] is None:
            from fastapi import HTTPException

            raise HTTPException(status_code=503, detail="model loading")
        return {"ready": True}

    uvicorn.run(app, host="0.0.0.0", port=int(os.environ.get("PORT", "8080")))


if __name__ == "__main__":
    main()
